// The records and the names fail, on real clusters, as a user would meet it:
// a live `xc start` cluster whose state.json is torn or overwritten with
// garbage (in each networking mode) is shown as damaged and removed whole by
// one `xc stop` or `xc cleanup`; two `xc start` of one name at once start
// one cluster, and the other fails at once naming it; `xc stop` of a
// cluster whose keeper was killed removes what it left; and a stop that
// failed can be called again and finishes.
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, describe, test } from 'vitest'
import { startCluster, waitUntil, type RunningCluster } from '../src/index.ts'
import { nameHolder } from '../src/host/names.ts'
import { CLUSTER_ID } from '../src/host/state-dir.ts'
import { leftovers, privateHome, processesNaming } from './helpers/host.ts'
import { NEEDS_ROOT_NAMESPACES, canBridge, canRootBridge, canRootless, rootlessBlockers, skippedBecause } from './helpers/rights.ts'

const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
// A home per test: the tests run at once, and a start's sweep must not remove what another test left on purpose.
const homes: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const remove of homes) await remove()
})
function newHome(): string {
  const h = privateHome()
  homes.push(h.remove)
  return h.home
}

/** Run `xc args...` in a fresh process with `home`; with its wall time. */
async function xc(home: string, ...args: string[]) {
  const t0 = Date.now()
  const r = await execa(process.execPath, [XC, ...args], { reject: false, env: { XCLUSTER_HOME: home }, timeout: 240_000 })
  return { ...r, ms: Date.now() - t0 }
}

const isRoot = process.getuid?.() === 0
const modes = [
  // Shared user nets: the cluster holds a port block machine-wide, which the cleanup of its damaged record must release too.
  { label: 'user', network: 'user' as const, rootless: undefined, userNets: 'shared' as const, skip: false, why: '' },
  { label: 'bridge', network: 'bridge' as const, rootless: false, skip: !canRootBridge, why: NEEDS_ROOT_NAMESPACES },
  { label: 'rootless-bridge', network: 'bridge' as const, rootless: true, skip: !canRootless, why: `rootless bridge mode is not allowed here: ${rootlessBlockers.join('; ')}` },
]
const skipped = modes.filter((m) => m.skip).map((m) => `${m.label} skipped: ${m.why}`)

// The tests of this file run at once (each its own home): they wait on boots and on xc processes more than on the CPU.
describe.concurrent('faults', () => {
  test(`a live xc-start cluster, in ${modes.filter((m) => !m.skip).map((m) => m.label).join(', ')} mode, whose state.json is torn or garbage: xc status says damaged, xc stop and xc cleanup each leave nothing${skipped.length ? ` (${skipped.join('; ')})` : ''}`, async ({ expect }) => {
    const home = newHome()
    const cases = modes.filter((m) => !m.skip).flatMap((m) => (['torn', 'garbage'] as const).map((kind) => ({ m, kind, name: `${kind}-${m.label}` })))
    const clusters = await Promise.all(cases.map((c) => startCluster({ home, name: c.name, network: c.m.network, rootless: c.m.rootless, ...('userNets' in c.m ? { userNets: c.m.userNets } : {}), nvm: 1, nrouters: 0 }, { detached: true })))
    for (const c of clusters) await Promise.all(c.vms.map((vm) => vm.closeChannel()))
    await Promise.all(cases.map(async ({ m, kind, name }, i) => {
      const c = clusters[i]
      if (kind === 'torn') truncateSync(join(c.stateDir, 'state.json'), 200)
      else writeFileSync(join(c.stateDir, 'state.json'), randomBytes(3000))
      const what = `its record state.json is not whole JSON (${kind === 'torn' ? 200 : 3000} bytes`
      // Damaged, not hidden: status says so, while its processes run on.
      const [json, text] = await Promise.all([xc(home, 'status', `--name=${name}`, '--json'), xc(home, 'status', `--name=${name}`)])
      expect(JSON.parse(json.stdout)).toMatchObject({ running: false, id: c.id, damaged: expect.stringContaining(what) })
      expect(text.stdout).toContain(`cluster ${name} (${c.id}): damaged: ${what}`)
      expect(processesNaming(c.stateDir).length, 'its QEMU and keeper still run').toBeGreaterThanOrEqual(2)
      // One xc stop of the torn one, one xc cleanup of the garbage one: each says what it removed.
      const r = kind === 'torn' ? await xc(home, 'stop', `--name=${name}`) : await xc(home, 'cleanup', `--name=${name}`)
      expect(r.exitCode, r.stderr).toBe(0)
      expect(r.stdout).toContain(kind === 'torn' ? `cluster ${name} (${c.id}) was damaged: ${what}` : `cluster ${name} (${c.id}), damaged: ${what}`)
      expect(r.stdout).toMatch(/removed process \d+ \(qemu-system-x86_64\)/)
      expect(r.stdout).toMatch(/removed process \d+ \(node\)/) // the keeper (and the relay in bridge mode)
      // Only shared user nets hold a port block; the others' ports are in a namespace of their own.
      if (c.state.state.portBlock !== undefined) expect(r.stdout).toContain(`removed port block ${c.state.state.portBlock}`)
      else expect(r.stdout).not.toContain('removed port block')
      expect(r.stdout).toContain(`removed name ${name}`)
      expect(r.stdout).toContain(`removed state directory ${c.stateDir}`)
      if (m.network === 'bridge' && !m.rootless) expect(r.stdout).toContain(`removed network namespace xc-${c.id}`)
      expect(nameHolder(home, name)).toBeUndefined()
    }))
    // No QEMU, relay, keeper, namespace (and with it no tap), port lock or directory.
    expect(await leftovers(home, clusters.map((c) => c.id))).toEqual([])
  })

  test('two `xc start --name=twice` at once: one starts, the other fails at once naming it; xc stop leaves nothing', async ({ expect }) => {
    const home = newHome()
    const [a, b] = await Promise.all([1, 2].map(() => xc(home, 'start', '--name=twice', '--nvm=1', '--nrouters=0')))
    const [ok, refused] = a.exitCode === 0 ? [a, b] : [b, a]
    expect([ok.exitCode, refused.exitCode], `${a.stderr}\n${b.stderr}`).toEqual([0, 1])
    const id = /^cluster twice \(([0-9a-f]{8})\) is up/.exec(ok.stdout)![1]
    expect(refused.stderr.trim()).toBe(`xc start: cluster twice is already running (id ${id}); stop it with \`xc stop --name=twice\` or pick another --name`)
    // At once: before the other had its VM up, and the refused start left nothing.
    expect(refused.ms).toBeLessThan(ok.ms)
    expect(readdirSync(join(home, 'run')).filter((d) => CLUSTER_ID.test(d))).toEqual([id])
    expect(nameHolder(home, 'twice')).toBe(id)
    const stop = await xc(home, 'stop', '--name=twice')
    expect(stop.stdout).toBe(`cluster twice (${id}) stopped`)
    expect(await leftovers(home, [id])).toEqual([])
    expect(nameHolder(home, 'twice')).toBeUndefined()
  })

  // Bridge mode leaves the most behind (a namespace); without the rights, user mode.
  const network = canBridge ? 'bridge' : 'user'
  test(`\`xc stop --name=x\` of a cluster whose keeper was killed removes what it left (${network} mode)`, async ({ expect }) => {
    const home = newHome()
    const start = await xc(home, 'start', '--name=orphan', '--nvm=1', '--nrouters=0', `--network=${network}`)
    expect(start.exitCode, start.stderr).toBe(0)
    const s = JSON.parse((await xc(home, 'state', '--name=orphan')).stdout) as { id: string; dir: string; keeper: { pid: number }; netns?: string }
    process.kill(s.keeper.pid, 'SIGKILL')
    // Its QEMU and relay die with it (PR_SET_PDEATHSIG): what is left is the namespace, the port block, the name and the directory.
    await waitUntil(() => expect(processesNaming(s.dir)).toEqual([]), { what: 'no process naming the cluster', timeout: 5000, interval: 50 })
    expect(await leftovers(home, [s.id])).not.toEqual([])
    expect((await xc(home, 'status', '--name=orphan')).stdout).toContain(`cluster orphan (${s.id}), ${network} networking`)
    const stop = await xc(home, 'stop', '--name=orphan')
    expect(stop.exitCode, stop.stderr).toBe(0)
    expect(stop.stdout).toContain(`cluster orphan (${s.id}) was not running any more; removed what it left:`)
    expect(stop.stdout).toContain(`removed state directory ${s.dir}`)
    if (s.netns) expect(stop.stdout).toContain(`removed network namespace ${s.netns}`)
    expect(stop.stdout).toContain('removed name orphan')
    expect(await leftovers(home, [s.id])).toEqual([])
    // The name is free again, at once.
    expect((await xc(home, 'stop', '--name=orphan')).stderr).toContain('No cluster named orphan is running')
  })

  // A second bind mount on the namespace's file makes `ip netns delete` fail (EBUSY) once: a real failure, needing root.
  const skip = !canRootBridge || !isRoot
  test.skipIf(skip)(skippedBecause('a stop() that failed (a namespace that could not be deleted) is called again and finishes: nothing left', skip, NEEDS_ROOT_NAMESPACES), async ({ expect }) => {
    const home = newHome()
    const c: RunningCluster = await startCluster({ home, name: 'stop-twice', network: 'bridge', rootless: false, nvm: 1, nrouters: 0 })
    const file = join('/run/netns', c.netns!)
    await execa('mount', ['--bind', file, file])
    await expect(c.stop()).rejects.toThrow(`could not delete network namespace ${c.netns}`)
    expect(existsSync(join(c.stateDir, 'state.json'))).toBe(true)
    await c.stop()
    expect(await leftovers(home, [c.id])).toEqual([])
  })
})
