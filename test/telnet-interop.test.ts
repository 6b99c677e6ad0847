// A person's telnet session, through a third-party client (telnet-client):
// the VM's login shell works for clients other than the harness's own.
import { afterAll, beforeAll, expect, test } from 'vitest'
import { Telnet } from 'telnet-client'
import { startCluster, type RunningCluster } from '../src/index.ts'

let cluster: RunningCluster
beforeAll(async () => {
  cluster = await startCluster({ name: 'telnet-interop', nvm: 1, nrouters: 0 })
})
afterAll(async () => {
  await cluster?.stop()
})

test('telnet-client logs in to the interactive shell and runs commands at its prompt', async () => {
  const conn = new Telnet()
  await conn.connect({
    host: '127.0.0.1',
    port: cluster.vm(1).plan.telnetPort,
    // ash prints "vm-001 # " and then asks for the cursor position (ESC[6n).
    shellPrompt: /vm-001 # (\x1b\[6n)?$/,
    // The login asks for the cluster's secret first, as a login prompt.
    loginPrompt: /xc-token: $/,
    username: cluster.vm(1).secret(),
    stripControls: true,
    timeout: 10_000,
    execTimeout: 10_000,
  })
  try {
    const out = await conn.exec('hostname; echo $((6*7))')
    expect(out.split('\n').map((l) => l.trim()).filter(Boolean)).toEqual(['vm-001', '42'])
  } finally {
    await conn.end()
  }
})
