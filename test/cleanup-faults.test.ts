// Cleanup never forgets, and what is shared is guarded: a namespace whose
// delete fails stays recorded and the failure is reported; clusters of two
// homes side by side get different port blocks and multicast groups (the
// locks are machine-wide); a scale-out that fails leaves no tap and no plan
// entry; another local user cannot get a VM's shell through its telnet
// forward, and the keeper takes requests only from its owner.
import { connect } from 'node:net'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { VmBootError, cleanupDeadClusters, startCluster, type RunningCluster } from '../src/index.ts'
import { lockedBlocks } from '../src/host/port-block.ts'
import { leftovers, privateHome } from './helpers/host.ts'
import { NEEDS_ROOT_NAMESPACES, canBridge, canRootBridge, skippedBecause } from './helpers/rights.ts'

const isRoot = process.getuid?.() === 0
let home: string
let remove: () => Promise<void>
beforeAll(() => ({ home, remove } = privateHome()))
afterAll(() => remove())

describe('cleanup never forgets', () => {
  // A second bind mount on the namespace's file makes `ip netns delete` fail (EBUSY) once: a real failure, needing root.
  // Named namespaces are root bridge mode's (rootless has none to bind-mount).
  test.skipIf(!canRootBridge || !isRoot)(skippedBecause('a namespace that cannot be deleted stays recorded, the stop says so, and a later cleanup removes it', !canRootBridge || !isRoot, canRootBridge ? 'needs root (a second bind mount on the namespace file)' : NEEDS_ROOT_NAMESPACES), async () => {
    const c = await startCluster({ home, name: 'stuck-ns', network: 'bridge', rootless: false, nvm: 1, nrouters: 0 })
    const ns = c.netns!
    const file = join('/run/netns', ns)
    await execa('mount', ['--bind', file, file])
    const err = (await c.stop().catch((e: unknown) => e)) as Error
    expect(err).toBeInstanceOf(Error)
    expect(err.message).toContain(`could not delete network namespace ${ns}`)
    // The record stays, and so does the namespace: nothing is forgotten.
    expect(existsSync(join(c.stateDir, 'state.json'))).toBe(true)
    expect(await leftovers(home, [c.id])).toContain(`namespace ${ns}`)
    // The first try took the extra mount away: the next cleanup can finish, by the records.
    const reports = await cleanupDeadClusters(home)
    expect(reports.find((r) => r.id === c.id)?.removed).toContain(`network namespace ${ns}`)
    expect(await leftovers(home, [c.id])).toEqual([])
  })

  test('clusters of two homes side by side, with shared user nets, share no port block and no multicast group', async () => {
    const other = privateHome()
    let a: RunningCluster | undefined
    let b: RunningCluster | undefined
    try {
      ;[a, b] = await Promise.all([
        startCluster({ home, name: 'home-a', userNets: 'shared', nvm: 1, nrouters: 0 }),
        startCluster({ home: other.home, name: 'home-b', userNets: 'shared', nvm: 1, nrouters: 0 }),
      ])
      expect(a.plan.allocation.telnetBase).not.toBe(b.plan.allocation.telnetBase)
      expect(a.plan.allocation.mcastGroupPrefix).not.toBe(b.plan.allocation.mcastGroupPrefix)
      const owners = [...lockedBlocks().values()]
      expect(owners).toContainEqual({ id: a.id, home })
      expect(owners).toContainEqual({ id: b.id, home: other.home })
    } finally {
      await Promise.allSettled([a?.stop(), b?.stop()])
      await other.remove()
    }
  })

  // Taps: bridge mode, root or rootless (canBridge).
  test.skipIf(!canBridge)(skippedBecause('a scale-out whose VM does not boot leaves no tap, no plan entry and no record of it', !canBridge), async () => {
    const c = await startCluster({ home, name: 'grow', network: 'bridge', nvm: 1, nrouters: 0 })
    try {
      const err = await c.scaleOut([2], { appendVm: { 2: 'rdinit=/nonexistent' } }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(VmBootError)
      const taps = (await c.hostExec(['ip', '-o', 'link', 'show', 'type', 'tun'])).stdout
      expect(taps).not.toMatch(/t2n\d/)
      expect(c.plan.vms.map((v) => v.num)).toEqual([1])
      expect(Object.keys(c.state.state.vms)).toEqual(['vm-001'])
      expect(c.state.state.plan!.vms.map((v) => v.num)).toEqual([1])
      // And the same VM can be added afterwards.
      await c.scaleOut([2])
      expect(await c.vm(2).run('hostname')).toBe('vm-002\n')
    } finally {
      await c.stop()
    }
  })
})

describe('another local user', () => {
  let cluster: RunningCluster
  beforeAll(async () => {
    cluster = await startCluster({ home, name: 'guarded', nvm: 1, nrouters: 0 }, { detached: true })
  })
  afterAll(async () => {
    await cluster?.stop()
  })

  /** Run `script` (JavaScript for node -e) as the user nobody; its stdout. */
  async function asNobody(script: string): Promise<string> {
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { reject: false, env: { HOME: '/tmp' }, timeout: 30_000 })
    expect(r.exitCode, r.stderr).toBe(0)
    return r.stdout
  }

  // setpriv to another user needs root.
  test.skipIf(!isRoot)(skippedBecause("cannot reach a VM's telnet forward: it is on the loopback of the cluster's own namespace (private user-mode nets)", !isRoot, 'needs root (setpriv to the user nobody)'), async () => {
    expect(cluster.state.state.userNets).toBe('private')
    const port = cluster.vm(1).plan.telnetPort
    const out = await asNobody(`
      const sock = require('node:net').connect(${port}, '127.0.0.1')
      let text = ''
      sock.on('data', (d) => { text += d.toString('latin1') })
      const done = (error) => { console.log(JSON.stringify({ text, error })); process.exit(0) }
      sock.on('error', (e) => done(e.code))
      sock.on('close', () => done(null))
      setTimeout(() => done('timeout'), 10000)
    `)
    const r = JSON.parse(out) as { text: string; error: string | null }
    expect(r.error).toBe('ECONNREFUSED')
    expect(r.text).toBe('')
    // The owner still gets in.
    expect(await cluster.vm(1).run('hostname')).toBe('vm-001\n')
  })

  test.skipIf(!isRoot)(skippedBecause("cannot reach the cluster's keeper, and a request without the secret is refused", !isRoot, 'needs root (setpriv to the user nobody)'), async () => {
    const socket = cluster.state.state.keeper!.socket
    const out = await asNobody(`
      const sock = require('node:net').connect(${JSON.stringify(socket)})
      sock.on('connect', () => { console.log('connected'); process.exit(0) })
      sock.on('error', (e) => { console.log(e.code); process.exit(0) })
    `)
    expect(out.trim()).toBe('EACCES')
    // Even a process that can reach the socket (root here) is refused without the secret.
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = connect(socket)
      let buf = ''
      sock.on('connect', () => sock.write(JSON.stringify({ op: 'spawn', argv: ['/bin/true'], log: '/dev/null' }) + '\n'))
      sock.on('data', (d) => {
        buf += d.toString()
        if (buf.includes('\n')) {
          sock.end()
          resolve(buf.trim())
        }
      })
      sock.on('error', reject)
    })
    expect(JSON.parse(reply)).toEqual({ error: 'not the owner of this cluster' })
  })
})
