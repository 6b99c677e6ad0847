// Helpers of the harness's own tests: private homes, and what a cluster left
// on the machine, looked up by the cluster's own ids (never by pattern).
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { imagePaths, xclusterHome } from '../../src/host/home.ts'
import { removeClusterResources } from '../../src/host/cleanup.ts'
import { removeDamagedCluster } from '../../src/host/damaged.ts'
import { scanStates, type StateRecord } from '../../src/host/state-dir.ts'
import { nsenterArgv } from '../../src/host/rootless.ts'
import { lockedBlocks } from '../../src/host/port-block.ts'

/**
 * A fresh XCLUSTER_HOME whose image is the one setup built, with a run/ of its
 * own. remove() first removes every cluster recorded there, alive or not (a
 * test that timed out mid-start leaves one), and those whose record is
 * damaged, then the directory.
 */
export function privateHome(): { home: string; remove: () => Promise<void> } {
  const home = mkdtempSync(join(tmpdir(), 'xc-home-'))
  symlinkSync(imagePaths(xclusterHome()).dir, join(home, 'image'))
  return {
    home,
    remove: async () => {
      const { states, damaged } = scanStates(home)
      for (const s of states) await removeClusterResources(home, s)
      for (const d of damaged) await removeDamagedCluster(home, d)
      rmSync(home, { recursive: true, force: true })
    },
  }
}

/** Collect the cluster ids that appear under `home/run` until the returned function is called. */
export function watchClusterIds(home: string): () => Set<string> {
  const seen = new Set<string>()
  const look = (): void => {
    const run = join(home, 'run')
    if (!existsSync(run)) return
    for (const d of readdirSync(run)) if (/^[0-9a-f]{8}$/.test(d)) seen.add(d)
  }
  const timer = setInterval(look, 10)
  look()
  return () => {
    clearInterval(timer)
    look()
    return seen
  }
}

/** Processes whose command line names `needle` (e.g. a private home or a state directory). */
export function processesNaming(needle: string): string[] {
  const out: string[] = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue
      if (cmd.includes(needle)) out.push(`${pid} ${cmd.slice(0, 120)}`)
    } catch {
      // gone
    }
  }
  return out
}

/** Network namespaces present now. */
export async function netnsList(): Promise<string[]> {
  const { stdout } = await execa('ip', ['netns', 'list'])
  return stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean)
}

/** Everything of the clusters `ids` (under `home`) still on the machine; empty when all is gone. */
export async function leftovers(home: string, ids: Iterable<string>): Promise<string[]> {
  const left: string[] = []
  const ns = await netnsList()
  for (const id of ids) {
    if (ns.includes(`xc-${id}`)) left.push(`namespace xc-${id}`)
    if (existsSync(join(home, 'run', id))) left.push(`state directory ${join(home, 'run', id)}`)
    left.push(...processesNaming(join(home, 'run', id)).map((p) => `process ${p}`))
  }
  // Port blocks are locked machine-wide (one directory for every home).
  for (const [block, owner] of lockedBlocks()) {
    if ([...ids].includes(owner.id)) left.push(`port block ${block} of ${owner.id}`)
  }
  return left
}


/**
 * `argv` run inside namespace `ns` of `cluster` (its own, `xc-<id>`, or one of
 * its simulated hosts' and the underlay's): through `ip netns exec` as root,
 * rootless through nsenter into the process that holds it.
 */
export function inClusterNs(state: StateRecord, ns: string, argv: string[]): string[] {
  if (!state.rootless) return ['ip', 'netns', 'exec', ns, ...argv]
  const holder = ns === `xc-${state.id}` ? state.relay : state.nsHolders?.find((h) => h.ns === ns)
  if (!holder) throw new Error(`no holder of namespace ${ns} recorded in ${state.dir}`)
  return nsenterArgv(holder.pid, argv)
}

/** The namespaces of a cluster beyond its own (simulated hosts, then the underlay), root or rootless. */
export function extraNamespaces(state: StateRecord): string[] {
  return state.rootless ? (state.nsHolders ?? []).map((h) => h.ns) : [...(state.netnsExtra ?? [])]
}

/** Processes (pid and command) whose network namespace is one of `nsIds` (readlink of /proc/PID/ns/net, e.g. `net:[4026532301]`). */
export function processesInNetns(nsIds: string[]): string[] {
  const out: string[] = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      if (nsIds.includes(readlinkSync(`/proc/${pid}/ns/net`))) out.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 120)}`)
    } catch {
      // gone, or not ours to read
    }
  }
  return out
}
