// startCluster: validate -> state directory -> ports -> plan -> boot context
// -> the start procedure -> impairments -> RunningCluster. Any failure on
// the way removes what was made, by the records in the state directory.
import { ClusterNameTakenError, DiskWriteError, XclusterError } from '../errors.ts'
import { cleanupDeadClusters, removeClusterResources } from '../host/cleanup.ts'
import { isDiskFull, noSpaceLeft } from '../host/durable.ts'
import { nameTakenBy, takeName } from '../host/names.ts'
import { startKeeper } from '../host/keeper.ts'
import { ensureReaper } from '../host/reaper.ts'
import { allocatePortBlock, allocationOf, NAMESPACED_BLOCK } from '../host/port-block.ts'
import { clusterAlive, listStates, StateDir } from '../host/state-dir.ts'
import { Teardown } from '../host/teardown.ts'
import { planCluster } from '../plan/plan.ts'
import { prepareBoot, type BootContext } from './boot.ts'
import { own } from './owner.ts'
import { packageLayers } from './packages.ts'
import { saveSnapshot } from './snapshot.ts'
import { connectSshHosts } from './ssh-hosts.ts'
import type { ClusterOptions } from './options.ts'
import { RunningCluster } from './running-cluster.ts'
import { verbEvent } from './verb-log.ts'
import { defaultStart, StartContext } from './start-context.ts'
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
  let ctx: BootContext | undefined
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
    ctx = await prepareBoot(spec, state, plan, undefined, layers, ssh)
    sc = new StartContext(ctx)
    await (spec.start ?? defaultStart)(sc)
    if (!sc.booted) throw new XclusterError('The custom start returned without booting any VM: call `await ctx.boot()` in it')
    // snapshot: true, and none to restore from (or it did not restore): save one at this ready point, before any test command and before the impairments (which are applied again after each restore).
    const snap = ctx.snapshot
    if (snap?.key && (!snap.from || snap.coldVms?.length)) {
      // Without one: every VM; after a partial restore only those that booted cold (the others run from the snapshot's own RAM files).
      const vms = snap.from ? sc.vms.filter((v) => snap.coldVms!.includes(v.name)) : sc.vms
      try {
        snap.from = await saveSnapshot(ctx, vms, snap.key, snap.from)
        snap.saved = true
      } catch (e) {
        // The cluster is up: a failed save costs the next start its snapshot, not this start.
        snap.saveFailed = (e as Error).message.split('\n')[0]
        process.stderr.write(`xcluster: cluster ${spec.name}: the snapshot could not be saved (${snap.saveFailed}); the cluster runs without one\n`)
        if (!snap.coldVms?.length) snap.from = undefined
      }
    }
    for (const [num, nets] of Object.entries(spec.impairments)) {
      const vm = sc.vms.find((v) => v.num === Number(num))
      if (!vm) throw new XclusterError(`impairments: no VM ${num} in the cluster`)
      for (const [net, imp] of Object.entries(nets)) await vm.link(Number(net)).impair(imp)
    }
    const cluster = new RunningCluster(ctx, sc.vms, sc.stopHooks)
    // Told once, at the start (an attach of `xc` measures the same from the records, silently).
    verbEvent({ kind: 'scale', cluster: cluster.name, scale: cluster.budgets.scale, how: cluster.budgets.how })
    // A detached cluster belongs to its keeper; any other to this process, which stops it on SIGINT, SIGTERM and SIGHUP.
    if (!start.detached) own(cluster)
    return cluster
  } catch (e) {
    // Bookkeeping is best effort here: a full disk must not keep the teardown from running.
    state.tryUpdate((r) => (r.stoppedAt = new Date().toISOString()))
    const t = new Teardown()
    t.push('state', () => removeClusterResources(home, state).then(() => {}))
    t.push('network', () => (ctx ? ctx.backend.teardown() : ssh && void [...ssh.hosts.values()].forEach((h) => h.close())))
    t.push('VMs', async () => void (await Promise.allSettled((sc?.vms ?? []).map((vm) => vm.stop()))))
    for (const h of sc?.stopHooks ?? []) t.push(h.label, h.fn)
    // The start's own error is the one to see; a teardown failure goes with it as its cause.
    const err = asDiskWriteError(e, state.dir)
    await t.run().catch((te) => {
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
