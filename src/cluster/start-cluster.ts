// startCluster: validate -> state directory -> ports -> plan -> boot context
// -> the start procedure -> impairments -> RunningCluster. Any failure on
// the way removes what was made, by the records in the state directory.
import { ClusterNameTakenError, DiskWriteError, XclusterError } from '../errors.ts'
import { cleanupDeadClusters } from '../host/cleanup.ts'
import { isDiskFull, noSpaceLeft } from '../host/durable.ts'
import { nameTakenBy, takeName } from '../host/names.ts'
import { startKeeper } from '../host/keeper.ts'
import { ensureReaper } from '../host/reaper.ts'
import { allocatePortBlock, allocationOf, NAMESPACED_BLOCK } from '../host/port-block.ts'
import { clusterAlive, listStates, StateDir } from '../host/state-dir.ts'
import { stderrLogger } from '../log.ts'
import { planCluster } from '../plan/plan.ts'
import { prepareBoot, type BootContext } from './boot.ts'
import { own } from './owner.ts'
import { packageLayers } from './packages.ts'
import { connectSshHosts } from './ssh-hosts.ts'
import type { ClusterOptions } from './options.ts'
import { RunningCluster } from './running-cluster.ts'
import { verbEvent } from './verb-log.ts'
import { defaultStart, StartContext } from './start-context.ts'
import { applyImpairments, stopParts } from './stop.ts'
import { resolvedOptions, validateOptions } from './validate.ts'

export interface StartOptions {
  /** Leave the cluster running after this process exits (xc start): a keeper parents its processes. */
  detached?: boolean
}

/**
 * Boot a cluster of real QEMU VMs and wait until every VM's telnet shell
 * answers. Stop it with `await cluster.stop()` or `await using`.
 */
export async function startCluster(options: ClusterOptions = {}, start: StartOptions = {}): Promise<RunningCluster> {
  const spec = validateOptions(options)
  const { home } = spec
  // A name a live cluster has fails at once, before packages are built (the atomic take is below, once there is a record).
  if (start.detached) nameFree(home, spec.name)
  // Packages are resolved and their layers built before anything runs: a bad name starts nothing.
  const layers = await packageLayers(spec, spec.vms)
  await cleanupDeadClusters(home)
  // ssh hosts: reached, checked and the VMs placed before anything exists (a host that cannot be used starts nothing).
  const ssh = spec.sshHosts ? await connectSshHosts(spec) : undefined
  let state: StateDir
  try {
    // The record appears whole, or a DiskWriteError and nothing.
    state = StateDir.create(home, spec.name, spec.network, start.detached ?? false)
  } catch (e) {
    for (const h of ssh?.hosts.values() ?? []) h.close()
    throw e
  }
  let boot: BootContext | undefined
  let sc: StartContext | undefined
  try {
    if (start.detached) await claimName(home, spec.name, state.id)
    // From here on this process has something on the host that a kill must not leave behind.
    if (!start.detached) {
      const reaper = ensureReaper(home)
      state.update((r) => (r.reaper = reaper))
    }
    // Only shared user-mode nets are on the host's loopback, where the clusters of every home and user must not meet: they take
    // a block of ports and groups machine-wide. Every other cluster's are in a namespace of its own: one block for all, no lock.
    const shared = spec.userNets === 'shared'
    const block = shared ? await allocatePortBlock(home, state.id, spec.vms) : NAMESPACED_BLOCK
    if (shared) state.update((r) => (r.portBlock = block))
    const plan = planCluster(spec, allocationOf(state.id, block))
    state.update((r) => {
      r.plan = plan
      r.options = resolvedOptions(options, spec)
    })
    // A keeper parents this machine's processes of a detached cluster; on ssh hosts QEMU daemonizes there instead.
    if (start.detached && !ssh) await startKeeper(state)
    boot = await prepareBoot(spec, state, plan, undefined, layers, ssh)
    sc = new StartContext(boot)
    await (spec.start ?? defaultStart)(sc)
    if (!sc.booted) throw new XclusterError('The custom start returned without booting any VM: call `await boot.boot()` in it')
    // snapshot: true: save what it lacks at this ready point, before any test command and before the impairments (applied again after each restore).
    await boot.snapshot?.saveAfterStart(sc.vms)
    await applyImpairments(spec, (n) => sc!.vms.find((v) => v.num === n))
    const cluster = new RunningCluster(boot, sc.vms, sc.stopHooks)
    // Told once, at the start (an attach of `xc` measures the same from the records, silently).
    verbEvent({ kind: 'scale', cluster: cluster.name, scale: cluster.budgets.scale, how: cluster.budgets.how }, boot.log)
    // A detached cluster belongs to its keeper; any other to this process, which stops it on SIGINT, SIGTERM and SIGHUP.
    if (!start.detached) own(cluster)
    return cluster
  } catch (e) {
    // Bookkeeping is best effort here: a full disk must not keep the teardown from running.
    state.tryUpdate((r) => (r.stoppedAt = new Date().toISOString()))
    // The start's own error is the one to see; a teardown failure goes with it as its cause.
    const err = asDiskWriteError(e, state.dir)
    const log = (spec.log ?? stderrLogger()).child(`cluster ${spec.name}`)
    await stopParts({ home, state, boot: boot, ssh, vms: sc?.vms ?? [], hooks: sc?.stopHooks ?? [], hooksDone: new Set(), log }).catch((te) => {
      if (err instanceof Error && err.cause === undefined) Object.defineProperty(err, 'cause', { value: te, enumerable: false })
    })
    throw err
  }
}

/** Throw ClusterNameTakenError when a live cluster other than `id` has `name`: one that holds it (names.ts), or a live cluster of a process (a test's) of that name, which would make `xc --name` ambiguous. */
function nameFree(home: string, name: string, id?: string): void {
  const holder = nameTakenBy(home, name)
  if (holder !== undefined && holder !== id) throw new ClusterNameTakenError(name, holder)
  const other = listStates(home).find((s) => s.id !== id && !s.state.detached && s.state.name === name && clusterAlive(s.state))
  if (other) throw new ClusterNameTakenError(name, other.id)
}

/** Take `name` for the detached cluster `id` (names.ts: atomically, for its life), or throw ClusterNameTakenError naming the cluster that has it. */
async function claimName(home: string, name: string, id: string): Promise<void> {
  await takeName(home, name, id)
  nameFree(home, name, id)
}

/**
 * A start that failed for want of space: a write that failed with ENOSPC or
 * EDQUOT anywhere in the start, or any failure while the state directory's
 * disk is full (QEMU that could not write its pid file, say), is a
 * DiskWriteError naming the file (or the state directory), the original
 * error as its cause.
 */
function asDiskWriteError(e: unknown, dir: string): unknown {
  if (e instanceof DiskWriteError) return e
  if (isDiskFull(e)) return new DiskWriteError((e as NodeJS.ErrnoException).path ?? dir, e)
  return noSpaceLeft(dir) ? new DiskWriteError(dir, e, 'ENOSPC') : e
}
