// The owner of a start killed with SIGKILL at each step of it, its reaper
// killed first (so that nobody cleans up after it): once the namespace is
// made, once the relay runs, once the taps are made, as QEMU is spawned, and
// during the snapshot save. Then one cleanup (`cleanupDeadClusters`, what
// `xc cleanup` and the next start run) leaves nothing: no QEMU, relay,
// namespace (with its bridges and taps), port lock, state directory, or
// snapshot and temporary of one.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, describe, test } from 'vitest'
import { cleanupDeadClusters, waitUntil } from '../src/index.ts'
import { listSnapshots } from '../src/cluster/snapshot/store.ts'
import { sameProcess } from '../src/host/proc.ts'
import { CLUSTER_ID, readRecord, type StateRecord } from '../src/host/state-dir.ts'
import { leftovers, privateHome, processesNaming } from './helpers/host.ts'
import { canRootBridge } from './helpers/rights.ts'

const CHILD = fileURLToPath(new URL('./helpers/start-and-wait.ts', import.meta.url))
const homes: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const remove of homes) await remove()
})

// Bridge mode as root has every step (a named namespace, taps, a relay); without root, user mode has the QEMU and snapshot steps.
const network = canRootBridge ? 'bridge' : 'user'
const netnsHasTap = async (id: string): Promise<boolean> => (await execa('ip', ['-n', `xc-${id}`, '-o', 'link', 'show', 'type', 'tun'], { reject: false })).stdout.trim() !== ''
const steps: Array<{ step: string; at: (id: string, s: StateRecord, home: string) => boolean | Promise<boolean>; snapshot?: boolean; bridge?: boolean }> = [
  { step: 'the namespace is made', bridge: true, at: (id, s) => !!s.netns && existsSync(`/run/netns/xc-${id}`) },
  { step: 'the relay runs', bridge: true, at: (_, s) => !!s.relay },
  { step: 'the taps are made', bridge: true, at: (id) => netnsHasTap(id) },
  { step: 'QEMU is spawned', at: (_, s) => !!s.vms['vm-001'] },
  { step: 'the snapshot is saved', snapshot: true, at: (_, __, home) => existsSync(join(home, 'snapshots')) && readdirSync(join(home, 'snapshots')).some((d) => d.startsWith('.tmp-')) },
]

describe.concurrent(`SIGKILL of the owner of a 1-VM start in ${network} mode, and of its reaper`, () => {
  for (const { step, at, snapshot, bridge } of steps.filter((s) => network === 'bridge' || !s.bridge)) {
    test(`once ${step}: one cleanup leaves nothing`, async ({ expect }) => {
      const { home, remove } = privateHome()
      homes.push(remove)
      const child = execa(process.execPath, ['--import', 'tsx', CHILD, home, network, '1', '', JSON.stringify({ snapshot: !!snapshot })], { reject: false, stdio: 'ignore' })
      // The step to kill at, watched every 5 ms (a step can be short); null when the start ended before it.
      const at_ = await waitUntil(async () => {
        if (child.exitCode !== null) return null
        const id = existsSync(join(home, 'run')) ? readdirSync(join(home, 'run')).find((d) => CLUSTER_ID.test(d)) : undefined
        const r = id ? readRecord(join(home, 'run', id)) : undefined
        return r && 'record' in r && (await at(id!, r.record, home)) ? { id: id!, rec: r.record as StateRecord } : false
      }, { what: `the start to get to: ${step}`, timeout: 120_000, interval: 5 })
      expect(at_, `the start never got to: ${step}`).not.toBeNull()
      const { id, rec } = at_!
      // Its reaper first (by the pid its state records, checked to be that process), so that nobody cleans up but the one cleanup below.
      expect(rec!.reaper && sameProcess(rec!.reaper.pid, rec!.reaper.startTime), 'the state records a live reaper').toBe(true)
      process.kill(rec!.reaper!.pid, 'SIGKILL')
      child.kill('SIGKILL')
      await child
      const dir = join(home, 'run', id!)
      // Its QEMU and relay die with it (PR_SET_PDEATHSIG); the rest waits for a cleanup.
      await waitUntil(() => expect(processesNaming(dir)).toEqual([]), { what: 'no process naming the cluster', timeout: 5000, interval: 50 })
      const reports = await cleanupDeadClusters(home)
      expect(reports.map((r) => [r.id, r.error])).toEqual([[id, undefined]])
      expect(await leftovers(home, [id!])).toEqual([])
      expect(readdirSync(join(home, 'run'))).toEqual([])
      // A save cut short leaves no snapshot (it appears whole, with its meta, or not at all) and no temporary one.
      expect(listSnapshots(home)).toEqual([])
      expect(existsSync(join(home, 'snapshots')) ? readdirSync(join(home, 'snapshots')).filter((d) => d !== '.lock') : []).toEqual([])
    })
  }
})
