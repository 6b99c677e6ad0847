// Faults on purpose: a VM's link on a net taken down and up (QEMU's
// set_link, both modes), and impairments of that link (delay, jitter, loss,
// rate, duplication, reordering) with the guest kernel's netem.
//
// Impairments act inside the VM, on the egress of its NIC on that net, and
// need `tools: true` (tc and sch_netem). They cannot be put on the host side:
// QEMU has no impairment of its own for user or socket networks, and the host
// kernel of these machines has no sch_netem for the taps of bridge mode.
import { XclusterError } from '../errors.ts'
import { show, type Checker } from '../pure/check.ts'
import { impairmentProblems, netemArgs, type Impairment } from '../plan/impairment.ts'

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

/** Impairments per VM and net; they need the tools (tc, netem). */
export function checkImpairments(c: Checker, v: unknown, tools: unknown): Record<number, Record<number, Impairment>> {
  const impairments = c.perVm('impairments', v, (k, val) => {
    if (typeof val !== 'object' || val === null) {
      c.add(`Expected \`${k}\` to be an object keyed by net number, got ${show(val)}`)
      return undefined
    }
    const out: Record<number, Impairment> = {}
    for (const [net, imp] of Object.entries(val as Record<string, Impairment>)) {
      c.add(...impairmentProblems(imp ?? {}, `\`${k}[${net}]\``))
      out[Number(net)] = imp
    }
    return out
  })
  if (Object.keys(impairments).length && tools !== true) c.add('`impairments` need the tools in the VMs (tc and netem): set `tools: true`')
  return impairments
}
