// Removes what a cluster made, by the ids recorded in its state directory:
// its QEMU processes, relay, namespace, port block, name and files. Used by
// stop, by the sweep at each start, and by `xc cleanup`, which also removes
// clusters whose record is damaged (damaged.ts).
import { existsSync, readFileSync } from 'node:fs'
import { HostUnreachableError } from '../errors.ts'
import { removeDamagedCluster, sweepDeadTemps } from './damaged.ts'
import { deleteNetns, netnsExists } from './netns.ts'
import { namesOf, releaseNames } from './names.ts'
import { removeRemote } from './remote-cleanup.ts'
import { targetLabel } from './ssh-host.ts'
import { waitFor } from './wait.ts'
import { releasePortBlock } from './port-block.ts'
import { argvNamesDir, procCmdline, processesNamingDir, procStartTime, sameProcess, waitGone } from './proc.ts'
import { clusterAlive, removeStateDir, scanStates, type StateDir, type StateRecord } from './state-dir.ts'

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
  const kills = list.filter((p) => sameProcess(p.pid, p.startTime) && (p.exact || argvNamesDir(p.pid, dir)))
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
      // Best effort (a full disk): the host's record, kept on disk, names what is gone there now, and a later cleanup finds it so.
      state.tryUpdate((r) => delete r.remoteHosts![name])
    } catch (e) {
      if (o.forget) {
        // Asked to let go of a host that will not answer again: what it has is named, for a person to remove there.
        removed.push(`nothing on host ${name} (${targetLabel(rec)}), which does not answer (${(e as Error).message}): forgot its record; remove by hand there namespace ${rec.netns}, links ${rec.links.join(' ')}, directory ${rec.dir} and the processes naming it`)
        state.tryUpdate((r) => delete r.remoteHosts![name])
      } else unreachable.push(`${name} (${targetLabel(rec)}): ${(e as Error).message}`)
    }
  }
  if (s.keeper) await killAll([{ ...s.keeper, what: 'cluster keeper' }], s.dir, removed)
  // And any process of the cluster whose pid the record lacks (started, then its record failed: a full disk): its argv names the directory.
  const unrecorded = processesNamingDir(s.dir).map((pid) => ({ pid, startTime: procStartTime(pid), what: `unrecorded ${procCmdline(pid)?.[0]?.split('/').at(-1) ?? '?'}` }))
  if (unrecorded.length) await killAll(unrecorded, s.dir, removed)
  for (const ns of [s.netns, ...(s.netnsExtra ?? [])]) {
    if (ns && netnsExists(ns)) removed.push(await deleteNetns(ns, s.dir))
  }
  if (s.portBlock !== undefined) await releasePortBlock(s.portBlock, s.id)
  if (unreachable.length) {
    const names = Object.keys(s.remoteHosts ?? {})
    throw new HostUnreachableError(names, `what cluster ${s.name} made on ${names.length === 1 ? 'host' : 'hosts'} ${names.join(', ')} could not be removed, and stays recorded in ${s.dir}; \`xc cleanup\` removes it once the host answers again (or \`xc cleanup --forget\` lets go of it):\n${unreachable.map((u) => `  - ${u}`).join('\n')}`)
  }
  for (const n of namesOf(home, s.id)) removed.push(`name ${n}`)
  await releaseNames(home, s.id)
  if (removeStateDir(s.dir)) removed.push(`state directory ${s.dir}`)
  return removed
}

export interface CleanupReport {
  id: string
  /** Its name; for a damaged record the name it held (an `xc start` cluster's), else `?`. */
  name: string
  removed: string[]
  /** What could not be removed (it stays recorded for the next cleanup). */
  error?: string
  /** Set when its record could not be read: why. It was removed as a dead cluster whose shape is unknown. */
  damaged?: string
}

/**
 * Remove the resources of every cluster whose owner is gone (only those
 * called `name`, when given), and of every cluster whose record is damaged
 * (it cannot say whether it lives: it is taken for dead, see damaged.ts).
 * Clusters alive are not touched. Also what killed runs left without a
 * record: temporary files and directories of processes that are gone.
 */
export async function cleanupDeadClusters(home: string, name?: string, o: { forget?: boolean } = {}): Promise<CleanupReport[]> {
  const reports: CleanupReport[] = []
  const { states, damaged } = scanStates(home)
  for (const state of states) {
    if (clusterAlive(state.state) || (name !== undefined && state.state.name !== name)) continue
    try {
      reports.push({ id: state.id, name: state.state.name, removed: await removeClusterResources(home, state, o) })
    } catch (e) {
      reports.push({ id: state.id, name: state.state.name, removed: [], error: (e as Error).message })
    }
  }
  for (const d of damaged) {
    const names = namesOf(home, d.id)
    if (name !== undefined && !names.includes(name)) continue
    const report: CleanupReport = { id: d.id, name: names[0] ?? '?', removed: [], damaged: d.reason }
    try {
      report.removed = await removeDamagedCluster(home, d)
    } catch (e) {
      report.error = (e as Error).message
    }
    reports.push(report)
  }
  sweepDeadTemps(home)
  return reports
}
