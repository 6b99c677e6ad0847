// A cluster's wait budgets at run time: the nominal ones (defaults, the
// cluster's, each VM's) and the scale measured from the cluster's own boots,
// which every bound is multiplied by. The verbs ask it for their bounds.
import { availableParallelism } from 'node:os'
import { XclusterError, type WaitBudget } from '../errors.ts'
import { DEFAULT_BUDGETS, REFERENCE_BOOT_MS, measuredScale, nominalBudget, type BootSample, type Budgets } from '../plan/budgets.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import type { VmRecord } from '../host/state-dir.ts'

/** How a wait is bounded: a named budget, or a nominal timeout of its own (both scaled), and how often it tries. */
export interface WaitUntilOptions {
  /** What is waited for, in words: the log and the error say it. */
  what?: string
  /** The nominal bound, ms, instead of a named budget's; scaled like a budget. */
  timeout?: number
  /** A named budget (DEFAULT_BUDGETS, or one of the cluster's `budgets`); default `default`. */
  budget?: string
  /** Time between attempts, ms (default 250). */
  interval?: number
}

export class WaitBudgets {
  constructor(
    /** What every nominal bound is multiplied by on this machine now. */
    readonly scale = 1,
    private readonly cluster: Budgets = {},
    private readonly perVm: Record<number, Budgets> = {},
    /** How the scale came about, in words. */
    readonly how = 'the nominal budgets',
  ) {}

  /** The budgets of `spec`'s cluster, scaled as it says: a fixed `budgetScale`, or measured from its VMs' cold boots. */
  static of(spec: Pick<ClusterSpec, 'budgets' | 'budgetsVm' | 'budgetScale'>, accel: 'kvm' | 'tcg', vms: Array<Pick<VmRecord, 'startedAt' | 'readyAt'>>): WaitBudgets {
    if (typeof spec.budgetScale === 'number') return new WaitBudgets(spec.budgetScale, spec.budgets, spec.budgetsVm, 'budgetScale, as given')
    const samples: BootSample[] = vms
      .filter((v) => v.startedAt && v.readyAt)
      .map((v) => ({ startMs: Date.parse(v.startedAt!), readyMs: Date.parse(v.readyAt!) }))
    const cores = availableParallelism()
    const scale = measuredScale(samples, cores, REFERENCE_BOOT_MS[accel])
    const how = samples.length
      ? `measured: ${samples.length} cold boot${samples.length === 1 ? '' : 's'} against ${REFERENCE_BOOT_MS[accel]} ms for one VM alone (${accel.toUpperCase()}), on ${cores} cores`
      : 'no cold boot to measure (restored from a snapshot)'
    return new WaitBudgets(scale, spec.budgets, spec.budgetsVm, how)
  }

  /** The nominal budget `name` of VM `vm` (or of the cluster), ms. */
  nominal(name: string, vm?: number): number {
    const ms = nominalBudget(name, vm, this.cluster, this.perVm)
    if (ms === undefined) {
      const known = [...new Set([...Object.keys(DEFAULT_BUDGETS), ...Object.keys(this.cluster), ...Object.values(this.perVm).flatMap((b) => Object.keys(b))])]
      throw new XclusterError(`No wait budget named \`${name}\`${vm !== undefined ? ` for VM ${vm}` : ''}: known ones are ${known.join(', ')}; add it with the cluster option \`budgets: { ${name}: ms }\``)
    }
    return ms
  }

  /** The bound of budget `name` on this machine: its nominal time times the scale, ms. */
  ms(name: string, vm?: number): number {
    return Math.round(this.nominal(name, vm) * this.scale)
  }

  /** The bound and budget of a wait with options `o`, for VM `vm` (or the cluster). */
  bound(o: WaitUntilOptions, vm?: number, fallback = 'default'): { timeoutMs: number; budget: WaitBudget } {
    if (o.timeout !== undefined) {
      if (!Number.isFinite(o.timeout) || o.timeout <= 0) throw new XclusterError(`Expected a wait's \`timeout\` to be a positive number of ms, got ${String(o.timeout)}`)
      if (o.budget !== undefined) throw new XclusterError(`A wait takes a \`timeout\` or a \`budget\`, not both (got ${o.timeout} and ${o.budget})`)
      return { timeoutMs: Math.round(o.timeout * this.scale), budget: { nominalMs: o.timeout, scale: this.scale } }
    }
    const name = o.budget ?? fallback
    const nominalMs = this.nominal(name, vm)
    return { timeoutMs: Math.round(nominalMs * this.scale), budget: { name, nominalMs, scale: this.scale } }
  }
}
