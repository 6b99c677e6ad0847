// Building blocks of the topologies: the std addresses, ECMP defaults
// through a set of routers, a router's default towards the host and its NAT.
import { HOST_VM_NUMBER, ipv4Of, ipv6Of, type ClusterPlan, type NicPlan, type VmPlan } from '../plan/plan.ts'
import type { AddressConfig, NatConfig, RouteConfig, VmNetConfig } from './types.ts'

/** The std addresses (192.168.k.v/24, P:192.168.k.v/120) of NIC `ifname` of `vm` on net `net`. */
export function std(vm: VmPlan, ifname: string, net: number, prefix: string): AddressConfig[] {
  return [
    { dev: ifname, cidr: `${ipv4Of(net, vm.num)}/24` },
    { dev: ifname, cidr: `${ipv6Of(net, vm.num, prefix)}/120` },
  ]
}

/** The std addresses of every NIC of `vm` except eth0 (which the base image sets up). */
export function stdAll(vm: VmPlan, prefix: string): AddressConfig[] {
  return vm.nics.filter((n) => n.index > 0).flatMap((n) => std(vm, n.ifname, n.net, prefix))
}

/** The routers of the plan (VMs 201-220), by number. */
export function routers(plan: ClusterPlan): VmPlan[] {
  return plan.vms.filter((v) => v.role === 'router')
}

/** A v4 and a v6 route to `dst4`/`dst6` through `vms` on net `net` (multipath when several). */
export function routeVia(dst4: string, dst6: string, vms: number[], net: number, prefix: string): RouteConfig[] {
  if (vms.length === 0) return []
  return [
    { dst: dst4, via: vms.map((v) => ipv4Of(net, v)), family: 4 },
    { dst: dst6, via: vms.map((v) => ipv6Of(net, v, prefix)), family: 6 },
  ]
}

/** Default routes (v4 and v6) through `vms` on net `net`. */
export function defaultVia(vms: number[], net: number, prefix: string): RouteConfig[] {
  return routeVia('default', 'default', vms, net, prefix)
}

/** A router's IPv4 default towards the host alias on net 0 (xcluster: `default via 192.168.0.250`). */
export function hostDefault(): RouteConfig {
  return { dst: 'default', via: [ipv4Of(0, HOST_VM_NUMBER)], family: 4 }
}

/** MASQUERADE of nets `nets` out of eth0 (IPv4 only, as in xcluster). */
export function natOut(nets: number[]): NatConfig[] {
  return nets.map((n) => ({ source: `192.168.${n}.0/24`, outDev: 'eth0' }))
}

/** A next hop: router `vm`'s address on net `net`. */
export type Hop = [vm: number, net: number]

/** The NIC of `vm` on net `net`, if it has one. */
export function nicOn(vm: VmPlan, net: number): NicPlan | undefined {
  return vm.nics.find((n) => n.net === net)
}

/** The std addresses of `vm`'s NICs on the nets `nets` only (its other NICs stay unaddressed). */
export function stdOn(vm: VmPlan, nets: number[], prefix: string): AddressConfig[] {
  return vm.nics.filter((n) => n.index > 0 && nets.includes(n.net)).flatMap((n) => std(vm, n.ifname, n.net, prefix))
}

/**
 * The hops of `hops` that `vm` can use in `plan`: the router exists, has a NIC
 * on the hop's net, and so does `vm` (a route through a gateway on a net the
 * VM is not on would fail, and stop its setup script).
 */
export function usableHops(plan: ClusterPlan, vm: VmPlan, hops: Hop[]): Hop[] {
  return hops.filter(([num, net]) => {
    const r = plan.vms.find((v) => v.num === num)
    return r !== undefined && r.num !== vm.num && nicOn(r, net) !== undefined && nicOn(vm, net) !== undefined
  })
}

/** A v4 and a v6 route through next hops that may sit on different nets (multipath when several). */
export function routeViaHops(dst4: string, dst6: string, hops: Hop[], prefix: string, tables?: { v4: number; v6: number }): RouteConfig[] {
  if (hops.length === 0) return []
  return [
    { dst: dst4, via: hops.map(([v, n]) => ipv4Of(n, v)), family: 4, ...(tables ? { table: tables.v4 } : {}) },
    { dst: dst6, via: hops.map(([v, n]) => ipv6Of(n, v, prefix)), family: 6, ...(tables ? { table: tables.v6 } : {}) },
  ]
}

/** A route to net `to` (v4 /24 and v6 /120) through `hops`. */
export function netViaHops(to: number, hops: Hop[], prefix: string): RouteConfig[] {
  return routeViaHops(`192.168.${to}.0/24`, `${prefix}:192.168.${to}.0/120`, hops, prefix)
}

/** Default routes (v4 and v6) through `hops`, optionally in policy tables. */
export function defaultViaHops(hops: Hop[], prefix: string, tables?: { v4: number; v6: number }): RouteConfig[] {
  return routeViaHops('default', 'default', hops, prefix, tables)
}

/** Every router of `plan` as a hop on net `net` (an ECMP next-hop list). */
export function routerHops(plan: ClusterPlan, net: number): Hop[] {
  return routers(plan).map((r): Hop => [r.num, net])
}

/** What a router of a topology does, for routerConfig. */
export interface RouterSpec {
  /** Routes to nets: [net, next hops] (multipath when several usable hops). */
  routes?: Array<[to: number, hops: Hop[]]>
  /** `default via 192.168.0.250` (IPv4). */
  hostDefault?: boolean
  /** Nets MASQUERADEd out of eth0. */
  nat?: number[]
}

/** A forwarding router with std addresses on every NIC and the routes and NAT of `s`. */
export function routerConfig(vm: VmPlan, plan: ClusterPlan, s: RouterSpec): VmNetConfig {
  const p = plan.prefix
  const cfg: VmNetConfig = {
    addresses: stdAll(vm, p),
    forwarding: true,
    routes: [
      ...(s.hostDefault ? [hostDefault()] : []),
      ...(s.routes ?? []).flatMap(([to, hops]) => netViaHops(to, usableHops(plan, vm, hops), p)),
    ],
  }
  if (s.nat?.length) cfg.nat = natOut(s.nat)
  return cfg
}

/**
 * The vmConfig of a routed core between two edges (diamond, x-diamond):
 * routers set up from `routers`, nodes default via vm-201 on net 1 and
 * testers via vm-202 on net 2.
 */
export function edgeRoutedConfig(routers: Record<number, RouterSpec>): (vm: VmPlan, plan: ClusterPlan) => VmNetConfig {
  return (vm, plan) => {
    const p = plan.prefix
    if (vm.role === 'router') {
      const spec = routers[vm.num]
      return spec ? routerConfig(vm, plan, spec) : { addresses: stdAll(vm, p) }
    }
    const hop: Hop = vm.role === 'node' ? [201, 1] : [202, 2]
    return { addresses: stdAll(vm, p), routes: defaultViaHops(usableHops(plan, vm, [hop]), p) }
  }
}
