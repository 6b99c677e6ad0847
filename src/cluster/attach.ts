// Attach to a cluster that another process started (xc start), from the
// records in its state directory: its VMs, its backend, its boot context.
import { XclusterError } from '../errors.ts'
import { xclusterHome } from '../image/home.ts'
import { createBackend } from '../net/create-backend.ts'
import { checkOptions, type ClusterOptions } from '../plan/options.ts'
import { QemuProcess } from '../qemu/launcher.ts'
import { resolveAccel } from '../qemu/accel.ts'
import { RunningCluster } from './running-cluster.ts'
import { RunningVm } from './running-vm.ts'
import { imageFor, type BootContext } from './start-cluster.ts'
import { clusterAlive, listStates, type StateDir } from './state-dir.ts'

/** The state of the live cluster called `name`, if any. */
export function findCluster(home: string, name: string): StateDir | undefined {
  return listStates(home).find((s) => s.state.name === name && clusterAlive(s.state) && s.state.plan)
}

/** A handle on the running cluster `name` started by another process. */
export async function attachCluster(name = 'default', homeOverride?: string): Promise<RunningCluster> {
  const home = xclusterHome(homeOverride)
  const state = findCluster(home, name)
  if (!state) throw new XclusterError(`No cluster named ${name} is running (start one with \`xc start --name=${name}\`)`)
  const s = state.state
  const options = (s.options ?? {}) as ClusterOptions
  const { spec } = checkOptions(options)
  const plan = s.plan!
  const backend = createBackend(plan, state, spec)
  const ctx: BootContext = {
    home,
    spec,
    state,
    plan,
    backend,
    accel: await resolveAccel(spec.accel),
    image: await imageFor(options, home),
    initrd: state.path('initrd.gz'),
    detached: s.detached,
    bootTimeout: spec.bootTimeout ?? 120_000,
    keeper: s.keeper?.socket,
  }
  const vms: RunningVm[] = []
  for (const vmPlan of plan.vms) {
    const rec = s.vms[vmPlan.name]
    if (!rec?.process) continue
    vms.push(new RunningVm(vmPlan, rec, QemuProcess.adopt(rec.process, rec.qmp), backend))
  }
  return new RunningCluster(home, state, plan, ctx, vms)
}
