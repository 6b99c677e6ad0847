// A standard xcluster topology as data: the option defaults it needs
// (xcluster's Envsettings) and, per VM, the network setup that runs inside
// the VM at boot (xcluster's 11xnet.rc), rendered from that data.
import type { TopologyDefaults } from '../plan/spec.ts'
import type { ClusterPlan, VmPlan } from '../plan/plan.ts'
import type { DiagramExtras } from '../plan/diagram.ts'

/** One IP address on a device, with its prefix length. */
export interface AddressConfig {
  dev: string
  /** e.g. '192.168.1.1/24' or '1000::1:192.168.1.1/120' */
  cidr: string
}

/** A Linux bridge inside the VM (the `bridge` topology's vm-201). */
export interface BridgeConfig {
  name: string
  mac: string
  members: string[]
}

/** A route; several `via` make a multipath (ECMP) route. */
export interface RouteConfig {
  /** 'default' or a prefix such as '192.168.2.0/24' or '1000::1:192.168.2.0/120' */
  dst: string
  /** next hops; empty with `dev` for an on-link route */
  via: string[]
  dev?: string
  family: 4 | 6
  table?: number
}

/** A policy routing rule (`ip rule add oif eth2 table 300`). */
export interface RuleConfig {
  oif?: string
  table: number
  family: 4 | 6
}

/** MASQUERADE of `source` out of `outDev` (IPv4 only, as in xcluster). */
export interface NatConfig {
  source: string
  outDev: string
}

/** Everything one VM sets up. */
export interface VmNetConfig {
  /** Devices brought up without addresses (bridge ports, un-addressed LANs that are set up). */
  up?: string[]
  bridges?: BridgeConfig[]
  addresses: AddressConfig[]
  /** IPv4 and IPv6 forwarding on, IPv4 multipath hash on L4 (xcluster's fwsetup). */
  forwarding?: boolean
  routes?: RouteConfig[]
  rules?: RuleConfig[]
  nat?: NatConfig[]
}

export interface Topology {
  name: string
  summary: string
  /** Option defaults (counts, nets per role and VM, memory); the user's own options win over these. */
  defaults(): TopologyDefaults
  /** The setup of VM `vm` in `plan`. */
  vmConfig(vm: VmPlan, plan: ClusterPlan): VmNetConfig
  /** Notes on deviations from the original and what the topology leaves out. */
  notes?: string[]
  /** Extra labels for the topology picture (addresses that are not the std ones). */
  diagram?(plan: ClusterPlan): DiagramExtras
}
