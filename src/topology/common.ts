// Building blocks of the topologies: the std addresses, ECMP defaults
// through a set of routers, a router's default towards the host and its NAT.
import { HOST_VM_NUMBER, ipv4Of, ipv6Of, type ClusterPlan, type VmPlan } from '../plan/plan.ts'
import type { AddressConfig, NatConfig, RouteConfig } from './types.ts'

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

/** A route to net `to` (v4 /24 and v6 /120) through `vms` on net `net`. */
export function netVia(to: number, vms: number[], net: number, prefix: string): RouteConfig[] {
  return routeVia(`192.168.${to}.0/24`, `${prefix}:192.168.${to}.0/120`, vms, net, prefix)
}

/** A router's IPv4 default towards the host alias on net 0 (xcluster: `default via 192.168.0.250`). */
export function hostDefault(): RouteConfig {
  return { dst: 'default', via: [ipv4Of(0, HOST_VM_NUMBER)], family: 4 }
}

/** MASQUERADE of nets `nets` out of eth0 (IPv4 only, as in xcluster). */
export function natOut(nets: number[]): NatConfig[] {
  return nets.map((n) => ({ source: `192.168.${n}.0/24`, outDev: 'eth0' }))
}
