// A started cluster: its VMs by number or name, its wait budgets and
// waitUntil, scale-out and scale-in, and stop (reverse order, idempotent,
// keeps going past a failure).
import { ClusterConfigError, SnapshotError, XclusterError } from '../errors.ts'
import { busyPorts } from '../host/port-block.ts'
import type { StateDir } from '../host/state-dir.ts'
import { topologySvg } from '../diagram/svg.ts'
import type { HostResult } from '../net/backend.ts'
import { getTopology } from '../topology/index.ts'
import { linkNetBetween } from '../plan/links.ts'
import { planCluster, vmName, type ClusterPlan, type VmPlan } from '../plan/plan.ts'
import { bootEach } from './admission.ts'
import { bootVm, type BootContext } from './boot.ts'
import type { ClusterSnapshot } from './snapshot/session.ts'
import { writeInitrd } from './initrd.ts'
import { checkScaleOut, type PerVmOptions } from './vm-options.ts'
import type { RunningVm } from './running-vm.ts'
import { WaitBudgets, type WaitUntilOptions } from './budgets.ts'
import { resolveWait, retryUntil } from './wait-until.ts'
import { disown } from './owner.ts'
import { applyImpairments, stopParts } from './stop.ts'
import type { StopHook } from './start-context.ts'

export class RunningCluster implements AsyncDisposable {
  private readonly byNum = new Map<number, RunningVm>()
  private stopping?: Promise<void>
  /** The wait budgets of this cluster and its VMs, scaled for this machine as measured from the VMs' boots (or as `budgetScale` says). */
  readonly budgets: WaitBudgets
  private readonly hooksDone = new Set<StopHook>()

  constructor(
    private readonly boot: BootContext,
    vms: RunningVm[],
    private readonly stopHooks: StopHook[] = [],
  ) {
    this.budgets = WaitBudgets.of(boot.spec, boot.accel, vms.map((v) => v.record))
    for (const vm of vms) this.adopt(vm)
  }

  private adopt(vm: RunningVm): void {
    vm.restarter = (v) => this.restart(v.num)
    vm.budgets = this.budgets
    vm.verbLog = this.boot.log
    this.byNum.set(vm.num, vm)
  }

  /**
   * Wait until `fn` holds (within the budget or nominal timeout given, scaled
   * for this machine; budget `default` without either): it is called until
   * it neither throws nor returns `false`, and its value is returned. A throw
   * of the test's own (a failed `expect`, a command's non-zero exit) is an
   * attempt that did not hold; an error of the harness (a VM gone) ends the
   * wait at once. Out of time: a WaitTimeoutError with what the last attempt
   * threw. `vm` picks that VM's own budgets and names it in the error.
   */
  waitUntil<T>(fn: () => T | false | Promise<T | false>, o: WaitUntilOptions & { what: string; vm?: number | string }): Promise<T> {
    if (o.vm !== undefined) return this.vm(o.vm).waitUntil(fn, o)
    return retryUntil(() => fn(), { ...resolveWait(this.budgets, o, o.what), log: this.boot.log })
  }

  /** Stop VM `num` and boot it again from scratch; the same handle keeps working. */
  async restart(num: number): Promise<void> {
    const vm = this.vm(num)
    await vm.stop()
    this.boot.runner.release(vm.plan)
    await this.boot.backend.releaseVm(vm.plan)
    vm.adoptFrom(await bootVm(this.boot, vm.plan))
  }

  /** How this cluster started: from a snapshot, cold with a snapshot saved, cold after a snapshot that did not restore; undefined without `snapshot: true`. */
  get snapshot(): ClusterSnapshot['summary'] | undefined {
    return this.boot.snapshot?.summary
  }

  /**
   * Every VM back to the state of the cluster's snapshot (`snapshot: true`),
   * as at the ready point of its first boot: each QEMU is started again from
   * its saved state and re-keyed (secret, keys, clock, randomness); the
   * handles keep working, their control channels reconnect. The
   * impairments are applied again. A VM the snapshot does not have (a
   * scale-out), or whose state does not load, boots cold.
   */
  async restore(): Promise<void> {
    const snap = this.boot.snapshot
    if (!snap) throw new SnapshotError('restore', undefined, 'restore() needs a cluster started with `snapshot: true`')
    snap.restorable()
    const release = async (vp: VmPlan): Promise<void> => {
      this.boot.runner.release(vp)
      await this.boot.backend.releaseVm(vp)
    }
    const results = await bootEach(this.boot.spec, this.vms, async (vm) => {
      await vm.closeChannel()
      await vm.process.stop(0)
      await release(vm.plan)
      vm.adoptFrom(await snap.restoreVm(vm.plan, (vp, from) => bootVm(this.boot, vp, undefined, from), release))
    })
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
    await applyImpairments(this.boot.spec, (n) => this.byNum.get(n))
  }

  /** The net of the point-to-point link between VMs `a` and `b` (option `links`); `vm(a).link(net)` is its end in `a`. */
  linkNet(a: number, b: number): number {
    const net = linkNetBetween(this.boot.spec.links, a, b)
    if (net === undefined) {
      const all = this.boot.spec.links.map(([x, y]) => `${vmName(x)}-${vmName(y)}`).join(', ')
      throw new XclusterError(`No link between ${vmName(a)} and ${vmName(b)} in cluster ${this.name}; its links: ${all || 'none (option `links`)'}`)
    }
    return net
  }

  /** Cut `vms` off net `net` (their links down); heal() brings them back. */
  async partition(vms: Array<number | string>, net: number): Promise<{ heal: () => Promise<void> }> {
    const links = vms.map((v) => this.vm(v).link(net))
    await Promise.all(links.map((l) => l.down()))
    return { heal: async () => void (await Promise.all(links.map((l) => l.up()))) }
  }

  get state(): StateDir {
    return this.boot.state
  }
  get id(): string {
    return this.boot.plan.id
  }
  get name(): string {
    return this.boot.plan.name
  }
  /** The plan of the VMs running now. */
  get plan(): ClusterPlan {
    return { ...this.boot.plan, vms: this.boot.plan.vms.filter((v) => this.byNum.has(v.num)) }
  }
  get stateDir(): string {
    return this.boot.state.dir
  }
  /** The cluster's topology, when it has one. */
  get topology(): string | undefined {
    return this.boot.spec.topology
  }

  /** The picture of the running cluster (SVG), with its topology's labels. */
  svg(title = this.name): string {
    const topo = this.topology ? getTopology(this.topology) : undefined
    return topologySvg(this.plan, { title, extra: topo?.diagram?.(this.plan) })
  }

  /** The cluster's network namespace (bridge mode), else undefined. */
  get netns(): string | undefined {
    return this.boot.state.state.netns
  }

  /**
   * Run a program on the host side of the cluster's networks: inside the
   * cluster's namespace in bridge mode (where 192.168.0.250 is) and with
   * private user-mode nets (where their loopback is), on the host with shared
   * ones. Resolves whatever the exit code.
   */
  async hostExec(argv: string[], opts: { timeout?: number } = {}): Promise<HostResult> {
    return this.boot.backend.exec(argv, opts.timeout ?? 30_000)
  }

  /**
   * The argv that runs `argv` where hostExec runs it, for a program that
   * should keep running (a capture, a daemon): start it yourself, end it by
   * its pid. Not with ssh hosts.
   */
  hostArgv(argv: string[]): string[] {
    return this.boot.backend.wrap(argv)
  }

  /** Every running VM, by number. */
  get vms(): RunningVm[] {
    return [...this.byNum.values()].sort((a, b) => a.num - b.num)
  }

  /** The VM with number `ref` (1, 201) or name (`vm-201`). */
  vm(ref: number | string): RunningVm {
    const num = typeof ref === 'number' ? ref : /^vm-(\d{3})$/.test(ref) ? Number(ref.slice(3)) : NaN
    const vm = this.byNum.get(num)
    if (!vm) {
      throw new XclusterError(
        `No VM ${typeof ref === 'number' ? vmName(ref) : JSON.stringify(ref)} in cluster ${this.name}; it has ${this.vms.map((v) => v.name).join(', ')}`,
      )
    }
    return vm
  }

  /** The plan with `planned` in place of any VM of the same number. */
  private withVms(planned: VmPlan[]): ClusterPlan {
    const nums = new Set(planned.map((v) => v.num))
    return { ...this.boot.plan, vms: [...this.boot.plan.vms.filter((v) => !nums.has(v.num)), ...planned].sort((a, b) => a.num - b.num) }
  }

  /** Add VMs with the same rules as start (role by number, nets, memory), optionally with per-VM overrides. */
  async scaleOut(nums: number[], overrides: PerVmOptions = {}): Promise<RunningVm[]> {
    if (this.boot.refused) throw this.boot.refused
    const { spec: extra, problems } = checkScaleOut(nums, overrides, new Set(this.byNum.keys()), this.boot.spec.append)
    if (problems.length) throw new ClusterConfigError(problems)
    const base = this.boot.spec
    const spec = {
      ...base,
      vms: nums,
      nets: { ...base.nets, ...extra.nets },
      memVm: { ...base.memVm, ...extra.memVm },
      smpVm: { ...base.smpVm, ...extra.smpVm },
      appendVm: { ...base.appendVm, ...extra.appendVm },
    }
    const planned = planCluster(spec, this.boot.plan.allocation).vms
    // Shared user nets: the forwards are on the host's loopback, where another program may have taken a port of the block.
    const block = this.boot.state.state.portBlock
    const busy = block === undefined ? [] : await busyPorts(block, nums)
    if (busy.length) throw new XclusterError(`Cannot scale out: host ports ${busy.join(', ')} of this cluster's block are taken by another program`)
    // New VMs boot from an initrd written for the grown plan (hosts, topology scripts).
    const before = this.boot.plan
    this.boot.plan = this.withVms(planned)
    await writeInitrd(this.boot.spec, this.boot.plan, await this.boot.image(), this.boot.state, this.boot.initrd)
    const results = await bootEach(this.boot.spec, planned, (vp) => bootVm(this.boot, vp))
    const started = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<RunningVm>).value)
    for (const vm of started) this.adopt(vm)
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) {
      // What did not boot leaves no host side and no plan entry behind.
      const up = new Set(started.map((v) => v.num))
      for (const vp of planned.filter((v) => !up.has(v.num))) await this.boot.backend.releaseVm(vp).catch(() => {})
      this.boot.plan = { ...before, vms: [...before.vms, ...planned.filter((v) => up.has(v.num))].sort((a, b) => a.num - b.num) }
    }
    this.boot.state.update((r) => {
      r.plan = this.boot.plan
      for (const vp of planned) if (!this.byNum.has(vp.num)) delete r.vms[vp.name]
    })
    if (failed) throw failed.reason
    return started
  }

  /** Stop and remove VMs. */
  async scaleIn(nums: number[]): Promise<void> {
    const vms = nums.map((n) => this.vm(n))
    await Promise.all(vms.map((vm) => vm.stop()))
    for (const vm of vms) {
      this.boot.runner.release(vm.plan)
      await this.boot.backend.releaseVm(vm.plan)
      this.byNum.delete(vm.num)
    }
    this.boot.state.update((r) => {
      for (const vm of vms) delete r.vms[vm.name]
    })
  }

  /**
   * Stop every VM and remove every host resource of the cluster. Safe to
   * call twice; calls while one runs share it. When it fails, what could
   * not be removed stays recorded, and a later call tries again (a later
   * cleanup too).
   */
  stop(): Promise<void> {
    this.stopping ??= this.teardown().catch((e: unknown) => {
      this.stopping = undefined
      throw e
    })
    return this.stopping
  }

  private async teardown(): Promise<void> {
    // Stopped from now on, for every cleanup: if a step below fails, what it leaves is a dead cluster's, and is removed later by its records.
    // Best effort: on a full disk the record cannot change, and the teardown runs all the same (the owner's death ends the rest).
    const unwritten = this.boot.state.tryUpdate((r) => (r.stoppedAt = new Date().toISOString()))
    if (unwritten) this.boot.log.warn(`stopping without writing its record (${unwritten.message.split('\n')[0]})`)
    try {
      await stopParts({ home: this.boot.spec.home, state: this.boot.state, boot: this.boot, vms: this.vms, hooks: this.stopHooks, hooksDone: this.hooksDone, log: this.boot.log })
    } finally {
      disown(this)
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
