// Diagram labels derived from a topology's own VM setup: wherever a VM's
// configured addresses differ from the std ones the picture shows for its
// NICs (another net's address, an extra-LAN address, no address, a bridge
// port, the bridge itself), a label says what the VM really has.
import type { DiagramExtras } from '../plan/diagram.ts'
import type { ClusterPlan } from '../plan/plan.ts'
import type { Topology } from './types.ts'

/** The extra labels of `topology` on `plan`, plus free-text `notes`. */
export function configExtras(topology: Pick<Topology, 'vmConfig'>, plan: ClusterPlan, notes: string[] = []): DiagramExtras {
  const addresses: NonNullable<DiagramExtras['addresses']> = {}
  for (const vm of plan.vms) {
    const cfg = topology.vmConfig(vm, plan)
    const rows: Array<{ ifname: string; label: string }> = []
    const portOf = new Map((cfg.bridges ?? []).flatMap((b) => b.members.map((m): [string, string] => [m, b.name])))
    for (const nic of vm.nics) {
      if (nic.index === 0) continue
      const mine = cfg.addresses.filter((a) => a.dev === nic.ifname).map((a) => a.cidr)
      const std = [`${nic.ipv4}/24`, `${nic.ipv6}/120`]
      const bridge = portOf.get(nic.ifname)
      if (bridge) rows.push({ ifname: nic.ifname, label: `port of ${bridge}, no address` })
      else if (mine.length === 0) rows.push({ ifname: nic.ifname, label: 'no address' })
      else {
        const hasStd = std.some((s) => mine.includes(s))
        for (const c of mine) if (!std.includes(c)) rows.push({ ifname: nic.ifname, label: `${hasStd ? 'also' : 'instead'}: ${c}` })
      }
    }
    for (const b of cfg.bridges ?? []) {
      rows.push({ ifname: b.name, label: `bridge ${b.members.join('+')}, ${b.mac}` })
      for (const a of cfg.addresses) if (a.dev === b.name) rows.push({ ifname: b.name, label: a.cidr })
    }
    if (rows.length) addresses[vm.name] = rows
  }
  return { addresses, notes }
}
