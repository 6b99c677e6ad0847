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

  constructor(private readonly ctx: BootContext) {}

  /** The plan; change it (e.g. addNic) before boot(). */
  get plan(): ClusterPlan {
    return this.ctx.plan
  }
  get clusterId(): string {
    return this.ctx.plan.id
  }
  get stateDir(): string {
    return this.ctx.state.dir
  }
  /** The cluster's namespace in bridge mode (after prepareNetwork), else undefined. */
  get netns(): string | undefined {
    return this.ctx.state.state.netns
  }
  get booted(): boolean {
    return this.vms.length > 0
  }

  private progress(kind: ProgressEvent['kind'], vm: string): void {
    this.ctx.spec.onProgress?.({ kind, vm, ready: this.vms.length, total: this.ctx.plan.vms.length, elapsedMs: Date.now() - this.t0 })
  }

  /** Give VM `vm` one more NIC, on net `net` (the next ethN), with the model's MAC and addresses. */
  addNic(vm: number, net: number): void {
    if (this.booted) throw new XclusterError('addNic: the VMs are booted already; change the plan before boot()')
    const v = this.ctx.plan.vms.find((x) => x.num === vm)
    if (!v) throw new XclusterError(`addNic: no VM ${vm} in the plan`)
    if (v.nics.some((n) => n.net === net)) throw new XclusterError(`addNic: VM ${vm} is on net ${net} already`)
    const index = v.nics.length
    v.nics.push({ ifname: `eth${index}`, index, net, mac: macOf(vm, net), ipv4: ipv4Of(net, vm), ipv6: ipv6Of(net, vm, this.ctx.plan.prefix), id: `n${net}` })
    if (!this.ctx.plan.nets.includes(net)) this.ctx.plan.nets = [...this.ctx.plan.nets, net].sort((a, b) => a - b)
    this.ctx.state.update((r) => (r.plan = this.ctx.plan))
  }

  /** Prepare the host side of the networks (namespace, bridges and relay in bridge mode). */
  async prepareNetwork(): Promise<void> {
    if (this.prepared) return
    this.prepared = true
    await this.ctx.backend.prepare()
  }

  /** Run a program on the host side of the networks (inside the namespace in bridge mode). */
  async hostExec(argv: string[]): Promise<HostResult> {
    return this.ctx.backend.exec(argv, 60_000)
  }

  /**
   * Start a long-lived program of the cluster's own (a switch's daemons, say)
   * on the host side of the networks (inside the namespace in bridge mode),
   * recorded in the state directory before it starts and ended by stop and
   * cleanup, also after a kill; output to `<stateDir>/<name>.log`. It must
   * stay in the foreground. Resolves to its pid once it runs.
   */
  async spawn(name: string, argv: string[]): Promise<number> {
    if (this.ctx.spec.sshHosts) throw new XclusterError(`spawn ${name}: cluster ${this.ctx.plan.name} runs on ssh hosts, where the harness starts only QEMU`)
    await this.prepareNetwork()
    return (await startDaemon(this.ctx.state, this.ctx.spawner, name, this.ctx.backend.wrap(argv))).pid!
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
    const { ctx } = this
    if (!this.initrdWritten) {
      this.initrdWritten = true
      await writeInitrd(ctx.spec, ctx.plan, await ctx.image(), ctx.state, ctx.initrd)
    }
    if (ctx.spec.snapshot && !ctx.snapshot) ctx.snapshot = await ClusterSnapshot.find(ctx)
    const release = async (vp: VmPlan): Promise<void> => {
      ctx.runner.release(vp)
      await ctx.backend.releaseVm(vp)
    }
    const nums = vms ?? ctx.plan.vms.map((v) => v.num).filter((n) => !this.vms.some((v) => v.num === n))
    const started: RunningVm[] = []
    const results = await bootEach(ctx.spec, nums, async (num) => {
      const vmPlan = ctx.plan.vms.find((v) => v.num === num)
      if (!vmPlan) throw new XclusterError(`boot: no VM ${num} in the plan`)
      const onLaunch = (): void => this.progress('booting', vmName(num))
      const boot = (vp: VmPlan, from?: Snapshot): Promise<RunningVm> => bootVm(ctx, vp, onLaunch, from)
      const vm = ctx.snapshot ? await ctx.snapshot.boot(vmPlan, boot, release) : await boot(vmPlan)
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
