// Removes what a cluster made, by the ids recorded in its state directory:
// its QEMU processes, relay, namespace, port block and files. Used by stop,
// by the sweep at each start, and by `xc cleanup`.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { HostCommandError, HostUnreachableError } from '../errors.ts'
import { removeRemote } from './remote-cleanup.ts'
import { targetLabel } from './ssh-host.ts'
import { waitFor } from './wait.ts'
import { releasePortBlock } from './port-block.ts'
import { procCmdline, sameProcess, procStartTime, waitGone } from './proc.ts'
import { clusterAlive, listStates, type StateDir, type StateRecord } from './state-dir.ts'

/** True when `pid` is a process of the cluster whose state is in `dir` (its argv names the dir). */
function belongsTo(pid: number, dir: string): boolean {
  return (procCmdline(pid) ?? []).some((a) => a.includes(dir))
}

/**
 * A VM whose launch was recorded but whose pid was not (killed between the
 * spawn and the record) still gets its pid from QEMU's own pidfile, which QEMU
 * writes as it starts: wait a little for it.
 */
async function awaitPidfiles(s: StateRecord, timeoutMs = 3000): Promise<void> {
  await waitFor(() => Object.values(s.vms).every((v) => v.host || v.process || existsSync(v.pidfile)), { timeoutMs })
}

interface Victim {
  pid: number
  startTime?: number
  what: string
  /** Its start time was recorded when it was spawned: that alone tells it from a stranger with its pid (its argv need not name the directory). */
  exact?: boolean
}

function pidsOf(s: StateRecord): Victim[] {
  const out: Victim[] = []
  // A VM on an ssh host has its pid and pid file there: removeRemote ends it.
  for (const vm of Object.values(s.vms).filter((v) => !v.host)) {
    if (vm.process) out.push({ ...vm.process, what: `QEMU of ${vm.name}` })
    // The pidfile covers a kill between spawn and the record of the pid.
    if (existsSync(vm.pidfile)) {
      const pid = Number(readFileSync(vm.pidfile, 'utf8').trim())
      if (pid > 0 && pid !== vm.process?.pid) out.push({ pid, startTime: procStartTime(pid), what: `QEMU of ${vm.name}` })
    }
  }
  if (s.relay) out.push({ ...s.relay, what: 'namespace relay' })
  for (const h of s.nsHolders ?? []) out.push({ ...h, what: `holder of namespace ${h.ns}` })
  // A daemon without a pid was killed with its parent (see daemons.ts).
  for (const d of s.daemons ?? []) if (d.pid) out.push({ pid: d.pid, startTime: d.startTime, what: `daemon ${d.name}`, exact: d.startTime !== undefined })
  return out
}

async function killAll(list: Victim[], dir: string, removed: string[]): Promise<void> {
  const kills = list.filter((p) => sameProcess(p.pid, p.startTime) && (p.exact || belongsTo(p.pid, dir)))
  for (const p of kills) {
    try {
      process.kill(p.pid, 'SIGKILL')
      removed.push(`process ${p.pid} (${p.what})`)
    } catch {
      // gone already
    }
  }
  await Promise.all(kills.map((p) => waitGone(p.pid, 3000)))
}

/** True when the network namespace `ns` exists (ip netns keeps one file per namespace). */
function netnsExists(ns: string): boolean {
  return existsSync(join('/run/netns', ns))
}

/**
 * Remove every resource `state` records. Returns what was removed, one line
 * each. When a namespace cannot be deleted, the state directory (its only
 * record) stays and a HostCommandError says what failed.
 */
export async function removeClusterResources(home: string, state: StateDir, o: { forget?: boolean } = {}): Promise<string[]> {
  const s = state.state
  const removed: string[] = []
  // The keeper last: it is the parent that reaps the others.
  await awaitPidfiles(s)
  await killAll(pidsOf(s), s.dir, removed)
  // Each ssh host removes what it recorded; a host that does not answer keeps its record, and with it the state directory.
  const unreachable: string[] = []
  for (const [name, rec] of Object.entries(s.remoteHosts ?? {})) {
    try {
      removed.push(...(await removeRemote(rec)))
      state.update((r) => delete r.remoteHosts![name])
    } catch (e) {
      if (o.forget) {
        // Asked to let go of a host that will not answer again: what it has is named, for a person to remove there.
        removed.push(`nothing on host ${name} (${targetLabel(rec)}), which does not answer (${(e as Error).message}): forgot its record; remove by hand there namespace ${rec.netns}, links ${rec.links.join(' ')}, directory ${rec.dir} and the processes naming it`)
        state.update((r) => delete r.remoteHosts![name])
      } else unreachable.push(`${name} (${targetLabel(rec)}): ${(e as Error).message}`)
    }
  }
  if (s.keeper) await killAll([{ ...s.keeper, what: 'cluster keeper' }], s.dir, removed)
  for (const ns of [s.netns, ...(s.netnsExtra ?? [])]) {
    if (!ns || !netnsExists(ns)) continue
    const argv = ['ip', 'netns', 'delete', ns]
    const r = await execa(argv[0], argv.slice(1), { reject: false })
    if (r.exitCode === 0 || !netnsExists(ns)) removed.push(`network namespace ${ns}`)
    else throw new HostCommandError(`could not delete network namespace ${ns} (still recorded in ${s.dir}): ${r.stderr.trim()}`, { argv, exitCode: r.exitCode, stderr: r.stderr })
  }
  if (s.portBlock !== undefined) releasePortBlock(s.portBlock, s.id)
  if (unreachable.length) {
    const names = Object.keys(s.remoteHosts ?? {})
    throw new HostUnreachableError(names, `what cluster ${s.name} made on ${names.length === 1 ? 'host' : 'hosts'} ${names.join(', ')} could not be removed, and stays recorded in ${s.dir}; \`xc cleanup\` removes it once the host answers again (or \`xc cleanup --forget\` lets go of it):\n${unreachable.map((u) => `  - ${u}`).join('\n')}`)
  }
  if (existsSync(s.dir)) {
    rmSync(s.dir, { recursive: true, force: true })
    removed.push(`state directory ${s.dir}`)
  }
  return removed
}

export interface CleanupReport {
  id: string
  name: string
  removed: string[]
  /** What could not be removed (it stays recorded for the next cleanup). */
  error?: string
}

/** Remove the resources of every cluster whose owner is gone (only those called `name`, when given). Clusters still alive are not touched. */
export async function cleanupDeadClusters(home: string, name?: string, o: { forget?: boolean } = {}): Promise<CleanupReport[]> {
  const reports: CleanupReport[] = []
  for (const state of listStates(home)) {
    if (clusterAlive(state.state) || (name !== undefined && state.state.name !== name)) continue
    try {
      reports.push({ id: state.id, name: state.state.name, removed: await removeClusterResources(home, state, o) })
    } catch (e) {
      reports.push({ id: state.id, name: state.state.name, removed: [], error: (e as Error).message })
    }
  }
  return reports
}
