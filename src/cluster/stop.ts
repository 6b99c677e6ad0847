// One stop procedure, shared by a cluster's stop() and by a start that
// failed: in reverse order of the making, each step whatever the others did
// (the first failure rethrown at the end): a custom start's undo steps (once
// each), the VMs, this process's hold on them (the monitors it serves), the
// network, what the ssh hosts have, and every resource its state records.
// And the one impairment step, at start and after each restore.
import { HostLostError, HostUnreachableError, XclusterError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { removeClusterResources } from '../host/cleanup.ts'
import type { SshHosts } from '../host/ssh-cluster.ts'
import type { StateDir } from '../host/state-dir.ts'
import { Teardown } from '../host/teardown.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import type { BootContext } from './boot.ts'
import type { RunningVm } from './running-vm.ts'
import type { StopHook } from './start-context.ts'

export interface ClusterParts {
  home: string
  state: StateDir
  /** The boot context, once the start got that far. */
  boot?: BootContext
  /** The ssh hosts' connections, when the start got no further than opening them. */
  ssh?: SshHosts
  vms: RunningVm[]
  hooks: StopHook[]
  /** The undo steps that have run (a second stop does not run them again). */
  hooksDone: Set<StopHook>
  log: Logger
}

/** Stop what `p` has; see the module comment. Safe to call again after a failure: what is gone is skipped, what failed is tried again. */
export async function stopParts(p: ClusterParts): Promise<void> {
  const { boot } = p
  const t = new Teardown()
  t.push('state directory, namespace and ports', async () => {
    try {
      await removeClusterResources(p.home, p.state)
    } catch (e) {
      // A host lost during the run keeps its record for a later cleanup: the stop has done what it can, and the loss was told already.
      const lost = boot?.failure()
      if (!(e instanceof HostUnreachableError && lost instanceof HostLostError && e.hosts.every((h) => h === lost.host))) throw e
      p.log.warn(e.message)
    }
  })
  t.push('ssh hosts', async () => {
    if (boot?.remoteHosts) await boot.remoteHosts.teardown()
    else for (const h of p.ssh?.hosts.values() ?? []) h.close()
  })
  if (boot) {
    t.push('network', () => boot.backend.teardown())
    t.push('QEMU runner', () => boot.runner.close())
  }
  t.push('VMs', async () => {
    const r = await Promise.allSettled(p.vms.map((vm) => vm.stop()))
    const bad = r.find((x): x is PromiseRejectedResult => x.status === 'rejected')
    if (bad) throw bad.reason
  })
  // The harness's steps above are idempotent; a custom start's own undo runs once, unless it failed.
  for (const h of p.hooks) {
    t.push(h.label, async () => {
      if (p.hooksDone.has(h)) return
      await h.fn()
      p.hooksDone.add(h)
    })
  }
  await t.run()
}

/** The impairments `spec` gives, on the VMs of the cluster (`vmOf`): at start, and again after each restore. */
export async function applyImpairments(spec: Pick<ClusterSpec, 'impairments'>, vmOf: (num: number) => RunningVm | undefined): Promise<void> {
  for (const [num, nets] of Object.entries(spec.impairments)) {
    const vm = vmOf(Number(num))
    if (!vm) throw new XclusterError(`impairments: no VM ${num} in the cluster`)
    for (const [net, imp] of Object.entries(nets)) await vm.link(Number(net)).impair(imp)
  }
}
