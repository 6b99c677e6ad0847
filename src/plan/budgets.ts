// Named wait budgets (netlab's validate has them: ebgp_session 30 s,
// ospfv2_adj_lan 50 s): how long a wait may take on the reference machine,
// by what it waits for; overridable per cluster and per VM, and scaled by
// how slow this machine is right now (measured from the cluster's own
// boots). Pure: the numbers and the scale's arithmetic (their checks are
// ../cluster/budget-options.ts).

/**
 * The nominal budgets, ms: what each wait needs at most on the reference
 * machine (this project's: 2 cores under TCG, idle), with room. They cover
 * the protocols' own timers too, which a faster CPU does not shorten (a VRRP
 * master is declared dead after 3 adverts, a BGP session after its hold
 * time), so a faster machine keeps them as they are.
 */
export const DEFAULT_BUDGETS = {
  /** A wait that names no budget: a condition in a VM (a command, a value). */
  default: 30_000,
  /** A VM's boot to a shell (reset(), and waits on a VM coming back). */
  boot: 120_000,
  /** A daemon started in a VM answers (FRR's zebra and bgpd under TCG take tens of seconds beside other boots). */
  daemon: 60_000,
  /** A socket listening in a VM (waitForPort). */
  port: 30_000,
  /** A file appearing in a VM (waitForFile). */
  file: 30_000,
  /** An eBGP session established and its routes installed, from the daemons' start. */
  bgpSession: 60_000,
  /** An OSPF adjacency Full, from the daemons' start (netlab: 50 s on a LAN, with OSPF's default timers). */
  ospfAdjacency: 50_000,
  /** Routes moved after a link or a router changed (a hold or dead time, then the new best path installed). */
  routeConvergence: 30_000,
  /** A VRRP backup took over, or a master took back (three adverts, and the skew). */
  vrrpFailover: 15_000,
}

export type BudgetName = keyof typeof DEFAULT_BUDGETS

/** Budgets by name, ms; names of the user's own are allowed beside the defaults. */
export type Budgets = Partial<Record<BudgetName, number>> & Record<string, number>

/** The longest budget taken, ms (an hour: a wait is not a sleep). */
export const MAX_BUDGET_MS = 3_600_000

/** The largest automatic scale: beyond it the machine is too slow for the suite, and a wait should fail rather than hang on. */
export const MAX_SCALE = 8

/**
 * A VM's boot to its shell, alone, on the reference machine (QEMU started to
 * telnet-ready, ms), per accelerator. TCG measured here (2 cores, idle): a VM
 * of the base image 1.5-1.8 s, with FRR's package layer about 2.2 s. KVM is
 * not available on the reference machine: its figure is an estimate (the
 * boot without the emulation of every instruction), so a KVM machine at
 * that speed keeps the nominal budgets.
 */
export const REFERENCE_BOOT_MS: Record<'kvm' | 'tcg', number> = { tcg: 2000, kvm: 800 }

/** One VM's boot: when its QEMU started and when its shell answered (ms since the epoch). */
export interface BootSample {
  startMs: number
  readyMs: number
}

/**
 * How much slower than the reference this machine is now, from the cluster's
 * own cold boots: each VM's boot time against the reference, after taking out
 * what the cluster's own boots explain (VMs booting at once share the cores:
 * k of them on c cores each take about k/c times as long, and that share of
 * the machine is not there once they are up). The median over the VMs, at
 * least 1 (the nominal budgets hold on a faster machine: they are mostly
 * protocol timers) and at most MAX_SCALE. Without samples (every VM restored
 * from a snapshot, or none recorded): 1.
 */
export function measuredScale(samples: BootSample[], cores: number, referenceMs: number): number {
  const ok = samples.filter((s) => s.readyMs > s.startMs)
  if (!ok.length || cores < 1 || referenceMs <= 0) return 1
  const slowness = ok.map((s) => {
    const len = s.readyMs - s.startMs
    // The average number of the cluster's VMs booting while this one did (itself included).
    let overlap = 0
    for (const o of ok) overlap += Math.max(0, Math.min(s.readyMs, o.readyMs) - Math.max(s.startMs, o.startMs))
    const share = Math.max(1, overlap / len / cores)
    return len / (referenceMs * share)
  }).sort((a, b) => a - b)
  const mid = slowness.length >> 1
  const median = slowness.length % 2 ? slowness[mid] : (slowness[mid - 1] + slowness[mid]) / 2
  return Math.min(MAX_SCALE, Math.max(1, Math.round(median * 100) / 100))
}

/** The nominal budget `name` for VM `vm`: its own override, the cluster's, the default; undefined for a name none of them has. */
export function nominalBudget(name: string, vm: number | undefined, cluster: Budgets, perVm: Record<number, Budgets>): number | undefined {
  return (vm !== undefined ? perVm[vm]?.[name] : undefined) ?? cluster[name] ?? (DEFAULT_BUDGETS as Budgets)[name]
}
