// The start procedure as building blocks, so that a user can replace it
// (xcluster's XCLUSTER_HOOK with its own cmd_start) without editing the
// harness: change the plan, prepare the host side, do something of their own
// there, boot the VMs, and register what to undo at stop.
import { NotStartedError, VmBootError, XclusterError } from '../errors.ts'
import { startDaemon } from '../host/daemons.ts'
import type { HostResult } from '../net/backend.ts'
import { ipv4Of, ipv6Of, macOf, type ClusterPlan, type VmPlan } from '../plan/plan.ts'
import { vmName, type ProgressEvent } from '../plan/spec.ts'
import { bootEach } from './admission.ts'
import { bootVm, type BootContext } from './boot.ts'
import { writeInitrd } from './initrd.ts'
import { ClusterSnapshot } from './snapshot/session.ts'
import type { Snapshot } from './snapshot/store.ts'
import type { RunningVm } from './running-vm.ts'

/** A custom start procedure; the default is `defaultStart`. */
export type CustomStart = (ctx: StartContext) => Promise<void>

export interface StopHook {
  label: string
  fn: () => Promise<void> | void
}

export class StartContext {
  private prepared = false
  private initrdWritten = false
  private readonly t0 = Date.now()
  readonly vms: RunningVm[] = []
  readonly stopHooks: StopHook[] = []

  constructor(private readonly cluster: BootContext) {}

  /** The plan; change it (e.g. addNic) before boot(). */
  get plan(): ClusterPlan {
    return this.cluster.plan
  }
  get clusterId(): string {
    return this.cluster.plan.id
  }
  get stateDir(): string {
    return this.cluster.state.dir
  }
  /** The cluster's namespace in bridge mode (after prepareNetwork), else undefined. */
  get netns(): string | undefined {
    return this.cluster.state.state.netns
  }
  get booted(): boolean {
    return this.vms.length > 0
  }

  private progress(kind: ProgressEvent['kind'], vm: string): void {
    this.cluster.spec.onProgress?.({ kind, vm, ready: this.vms.length, total: this.cluster.plan.vms.length, elapsedMs: Date.now() - this.t0 })
  }

  /** Give VM `vm` one more NIC, on net `net` (the next ethN), with the model's MAC and addresses. */
  addNic(vm: number, net: number): void {
    if (this.booted) throw new XclusterError('addNic: the VMs are booted already; change the plan before boot()')
    const v = this.cluster.plan.vms.find((x) => x.num === vm)
    if (!v) throw new XclusterError(`addNic: no VM ${vm} in the plan`)
    if (v.nics.some((n) => n.net === net)) throw new XclusterError(`addNic: VM ${vm} is on net ${net} already`)
    const index = v.nics.length
    v.nics.push({ ifname: `eth${index}`, index, net, mac: macOf(vm, net), ipv4: ipv4Of(net, vm), ipv6: ipv6Of(net, vm, this.cluster.plan.prefix), id: `n${net}` })
    if (!this.cluster.plan.nets.includes(net)) this.cluster.plan.nets = [...this.cluster.plan.nets, net].sort((a, b) => a - b)
    this.cluster.state.update((r) => (r.plan = this.cluster.plan))
  }

  /** Prepare the host side of the networks (namespace, bridges and relay in bridge mode). */
  async prepareNetwork(): Promise<void> {
    if (this.prepared) return
    this.prepared = true
    await this.cluster.backend.prepare()
  }

  /** Run a program on the host side of the networks (inside the namespace in bridge mode). */
  async hostExec(argv: string[]): Promise<HostResult> {
    return this.cluster.backend.exec(argv, 60_000)
  }

  /**
   * Start a long-lived program of the cluster's own (a switch's daemons, say)
   * on the host side of the networks (inside the namespace in bridge mode),
   * recorded in the state directory before it starts and ended by stop and
   * cleanup, also after a kill; output to `<stateDir>/<name>.log`. It must
   * stay in the foreground. Resolves to its pid once it runs.
   */
  async spawn(name: string, argv: string[]): Promise<number> {
    if (this.cluster.spec.sshHosts) throw new XclusterError(`spawn ${name}: cluster ${this.cluster.plan.name} runs on ssh hosts, where the harness starts only QEMU`)
    await this.prepareNetwork()
    return (await startDaemon(this.cluster.state, this.cluster.spawner, name, this.cluster.backend.wrap(argv))).pid!
  }

  /**
   * Why onStop is refused in this start, if it is: set by `xc`, whose process
   * exits once the cluster is up, so that `xc stop` (another process) could
   * never call a function of this one.
   */
  onStopRefused?: string

  /**
   * Undo something of your own at stop (runs before the harness's own
   * teardown, last registered first), in the process that stops the cluster
   * when that is this one. Not in a start by `xc` (see onStopRefused): start
   * programs with spawn() and make host resources inside the cluster's
   * namespace or state directory, which go with it.
   */
  onStop(label: string, fn: () => Promise<void> | void): void {
    if (this.onStopRefused) throw new XclusterError(`onStop(${JSON.stringify(label)}): ${this.onStopRefused}`)
    this.stopHooks.push({ label, fn })
  }

  /** Boot `vms` (default: every VM of the plan) and wait until their shells answer. */
  async boot(vms?: number[]): Promise<RunningVm[]> {
    await this.prepareNetwork()
    const cluster = this.cluster
    if (!this.initrdWritten) {
      this.initrdWritten = true
      await writeInitrd(cluster.spec, cluster.plan, await cluster.image(), cluster.state, cluster.initrd)
    }
    if (cluster.spec.snapshot && !cluster.snapshot) cluster.snapshot = await ClusterSnapshot.find(cluster)
    const release = async (vp: VmPlan): Promise<void> => {
      cluster.runner.release(vp)
      await cluster.backend.releaseVm(vp)
    }
    const nums = vms ?? cluster.plan.vms.map((v) => v.num).filter((n) => !this.vms.some((v) => v.num === n))
    const started: RunningVm[] = []
    const results = await bootEach(cluster.spec, nums, async (num) => {
      const vmPlan = cluster.plan.vms.find((v) => v.num === num)
      if (!vmPlan) throw new XclusterError(`boot: no VM ${num} in the plan`)
      const onLaunch = (): void => this.progress('booting', vmName(num))
      const boot = (vp: VmPlan, from?: Snapshot): Promise<RunningVm> => bootVm(cluster, vp, onLaunch, from)
      const vm = cluster.snapshot ? await cluster.snapshot.boot(vmPlan, boot, release) : await boot(vmPlan)
      this.vms.push(vm)
      started.push(vm)
      this.progress('ready', vm.name)
      return vm
    })
    const real = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => r.reason as Error)
      .filter((f) => !(f instanceof NotStartedError))
    if (real.length) {
      for (const f of real) if (f instanceof VmBootError) this.progress('failed', f.vm)
      throw real[0]
    }
    return started
  }
}

/** What startCluster does unless told otherwise. */
export const defaultStart: CustomStart = async (ctx) => {
  await ctx.prepareNetwork()
  await ctx.boot()
}
