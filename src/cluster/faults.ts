// Faults on purpose: a VM's link on a net taken down and up (QEMU's
// set_link, both modes), and impairments of that link (delay, jitter, loss,
// rate, duplication, reordering) with the guest kernel's netem.
//
// Impairments act inside the VM, on the egress of its NIC on that net, and
// need `tools: true` (tc and sch_netem). They cannot be put on the host side:
// QEMU has no impairment of its own for user or socket networks, and the host
// kernel of these machines has no sch_netem for the taps of bridge mode.
import { XclusterError } from '../errors.ts'

export interface Impairment {
  delayMs?: number
  jitterMs?: number
  lossPercent?: number
  /** Rate limit, kbit/s. */
  rateKbit?: number
  duplicatePercent?: number
  /** Percent of packets sent at once while the rest are delayed (needs delayMs). */
  reorderPercent?: number
}

const pct = (n: number): string => `${Number(n.toFixed(4))}%`

/** Problems of an impairment, each naming the field. */
export function impairmentProblems(i: Impairment, where = 'impairment'): string[] {
  const p: string[] = []
  const known = new Set(['delayMs', 'jitterMs', 'lossPercent', 'rateKbit', 'duplicatePercent', 'reorderPercent'])
  for (const k of Object.keys(i)) if (!known.has(k)) p.push(`Unknown field \`${k}\` in ${where}; known: ${[...known].join(', ')}`)
  const num = (k: keyof Impairment, lo: number, hi: number): void => {
    const v = i[k]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi)) {
      p.push(`Expected \`${k}\` in ${where} to be a number ${lo}-${hi}, got \`${String(v)}\``)
    }
  }
  num('delayMs', 0, 60_000)
  num('jitterMs', 0, 60_000)
  num('lossPercent', 0, 100)
  num('rateKbit', 1, 100_000_000)
  num('duplicatePercent', 0, 100)
  num('reorderPercent', 0, 100)
  if (i.jitterMs && !i.delayMs) p.push(`\`jitterMs\` in ${where} needs \`delayMs\``)
  if (i.reorderPercent && !i.delayMs) p.push(`\`reorderPercent\` in ${where} needs \`delayMs\` (netem reorders by sending some packets without the delay)`)
  return p
}

/** The netem arguments of an impairment (after `tc qdisc replace dev X root netem`). Pure. */
export function netemArgs(i: Impairment): string[] {
  const a: string[] = []
  if (i.delayMs !== undefined) a.push('delay', `${i.delayMs}ms`, ...(i.jitterMs ? [`${i.jitterMs}ms`] : []))
  if (i.lossPercent !== undefined) a.push('loss', pct(i.lossPercent))
  if (i.duplicatePercent !== undefined) a.push('duplicate', pct(i.duplicatePercent))
  if (i.reorderPercent !== undefined) a.push('reorder', pct(i.reorderPercent))
  if (i.rateKbit !== undefined) a.push('rate', `${i.rateKbit}kbit`)
  // netem's default queue (1000 packets) would drop under a low rate; make it long enough.
  a.push('limit', '10000')
  return a
}

export interface LinkTarget {
  name: string
  nics: Array<{ ifname: string; net: number }>
  monitor(execute: string, args?: object): Promise<unknown>
  run(command: string, opts?: { timeout?: number }): Promise<string>
}

/** The link of one VM on one net. */
export class LinkControl {
  readonly ifname: string
  private readonly netdev: string

  constructor(
    private readonly vm: LinkTarget,
    readonly net: number,
  ) {
    const nic = vm.nics.find((n) => n.net === net)
    if (!nic) throw new XclusterError(`${vm.name} has no NIC on net ${net} (its nets: ${vm.nics.map((n) => n.net).join(', ')})`)
    this.ifname = nic.ifname
    this.netdev = `n${net}`
  }

  /** Take the link down: the guest sees carrier loss; nothing passes either way. */
  async down(): Promise<void> {
    await this.vm.monitor('set_link', { name: this.netdev, up: false })
  }

  async up(): Promise<void> {
    await this.vm.monitor('set_link', { name: this.netdev, up: true })
  }

  /** Impair what the VM sends on this link (replaces an earlier impairment). */
  async impair(i: Impairment): Promise<void> {
    const problems = impairmentProblems(i, `the impairment of ${this.vm.name} net ${this.net}`)
    if (problems.length) throw new XclusterError(problems.join('; '))
    await this.vm.run(
      `command -v tc >/dev/null || { echo 'impairments need tc and netem in the VM: start the cluster with tools: true' >&2; exit 1; }; ` +
        `modprobe sch_netem && tc qdisc replace dev ${this.ifname} root netem ${netemArgs(i).join(' ')}`,
    )
  }

  /** Remove the impairment. */
  async clear(): Promise<void> {
    await this.vm.run(`tc qdisc del dev ${this.ifname} root 2>/dev/null; true`)
  }
}
