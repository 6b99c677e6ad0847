// A person's telnet session, through a third-party client (telnet-client):
// the VM's login shell works for clients other than the harness's own. The
// login's challenge is answered first (what `xc vm` does for a person), then
// telnet-client takes the session over at the shell's prompt.
import { afterAll, beforeAll, expect, test } from 'vitest'
import { Telnet } from 'telnet-client'
import { startCluster, type RunningCluster } from '../src/index.ts'
import { answerLine, findChallenge } from '../src/control/login.ts'
import { TELNET_PORT } from '../src/plan/plan.ts'

let cluster: RunningCluster
beforeAll(async () => {
  cluster = await startCluster({ name: 'telnet-interop', nvm: 1, nrouters: 0 })
})
afterAll(async () => {
  await cluster?.stop()
})

test('telnet-client runs commands at the prompt of the interactive shell, once the challenge is answered', async () => {
  const vm = cluster.vm(1)
  const sock = await vm.openStream(TELNET_PORT)
  // Answer the challenge and wait for the shell's first prompt (telnet negotiation goes unanswered: busybox telnetd does not insist).
  const text = await new Promise<string>((resolve, reject) => {
    let seen = ''
    let answered = false
    const timer = setTimeout(() => reject(new Error(`no challenge and prompt within 10 s: ${JSON.stringify(seen)}`)), 10_000)
    const onData = (d: Buffer): void => {
      seen += d.toString('latin1')
      const c = findChallenge(seen)
      if (c && !answered) {
        answered = true
        sock.write(answerLine(vm.secret(), vm.name, c, false)!)
      }
      if (!answered || !/vm-001 # (\x1b\[6n)?$/.test(seen)) return
      clearTimeout(timer)
      sock.off('data', onData)
      sock.pause()
      resolve(seen)
    }
    sock.on('data', onData)
    sock.resume()
  })
  expect(text).toContain('xc-challenge: vm-001 ')
  const conn = new Telnet()
  const connected = conn.connect({
    sock,
    // ash prints "vm-001 # " and then asks for the cursor position (ESC[6n).
    shellPrompt: /vm-001 # (\x1b\[6n)?$/,
    disableLogon: true,
    stripControls: true,
    timeout: 10_000,
    execTimeout: 10_000,
  })
  // What came after the challenge waited in the paused stream: telnet-client's listener has it now.
  sock.resume()
  await connected
  try {
    const out = await conn.exec('hostname; echo $((6*7))')
    expect(out.split('\n').map((l) => l.trim()).filter(Boolean)).toEqual(['vm-001', '42'])
  } finally {
    await conn.end()
  }
})
