// The start procedure as building blocks, so that a user can replace it
// (xcluster's XCLUSTER_HOOK with its own cmd_start) without editing the
// harness: change the plan, prepare the host side, do something of their own
// there, boot the VMs, and register what to undo at stop.
import { hostExec } from '../net/backend.ts'
import { VmBootError, XclusterError } from '../errors.ts'
import type { ProgressEvent } from '../plan/options.ts'
import { ipv4Of, ipv6Of, macOf, type ClusterPlan } from '../plan/plan.ts'
import type { RunningVm } from './running-vm.ts'
import type { BootContext } from './start-cluster.ts'

/** A custom start procedure; the default is `defaultStart`. */
export type CustomStart = (ctx: StartContext) => Promise<void>

export interface StartHooks {
  writeInitrd: () => Promise<void>
  bootVm: (vmNum: number, onLaunch: () => void) => Promise<RunningVm>
  /** Boot each item with the cluster's admission (bootEach in start-cluster.ts). */
  bootEach: <T, R>(items: T[], fn: (t: T) => Promise<R>) => Promise<PromiseSettledResult<R>[]>
  progress: (kind: ProgressEvent['kind'], vm: string) => void
}

export class StartContext {
  private prepared = false
  private initrdWritten = false
  readonly vms: RunningVm[] = []
  readonly stopHooks: Array<{ label: string; fn: () => Promise<void> | void }> = []

  constructor(
    private readonly ctx: BootContext,
    private readonly hooks: StartHooks,
  ) {}

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
  async hostExec(argv: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    return hostExec(this.ctx.backend, argv, 60_000)
  }

  /** Undo something of your own at stop (runs before the harness's own teardown, last registered first). */
  onStop(label: string, fn: () => Promise<void> | void): void {
    this.stopHooks.push({ label, fn })
  }

  /** Boot `vms` (default: every VM of the plan) and wait until their shells answer. */
  async boot(vms?: number[]): Promise<RunningVm[]> {
    await this.prepareNetwork()
    if (!this.initrdWritten) {
      this.initrdWritten = true
      await this.hooks.writeInitrd()
    }
    const nums = vms ?? this.ctx.plan.vms.map((v) => v.num).filter((n) => !this.vms.some((v) => v.num === n))
    const started: RunningVm[] = []
    const results = await this.hooks.bootEach(nums, async (num) => {
      const vm = await this.hooks.bootVm(num, () => this.hooks.progress('booting', `vm-${String(num).padStart(3, '0')}`))
      this.vms.push(vm)
      started.push(vm)
      this.hooks.progress('ready', vm.name)
      return vm
    })
    const real = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => r.reason as Error)
      .filter((f) => !/^not started/.test(f.message))
    if (real.length) {
      for (const f of real) if (f instanceof VmBootError) this.hooks.progress('failed', f.vm)
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
