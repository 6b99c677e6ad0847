// bridge: one flat subnet 192.168.1.0/24 over nodes and testers; vm-201
// bridges net 1 and net 2 at layer 2 (br1) instead of routing, and NATs the
// subnet towards the host.
import { ipv4Of, ipv6Of, type ClusterPlan, type VmPlan } from '../plan/plan.ts'
import type { RouteConfig, Topology, VmNetConfig } from './types.ts'
import { hostDefault, natOut, routers, std, stdAll } from './common.ts'
import { configExtras } from './diagram.ts'

/** The flat subnet's net. */
const NET = 1
const hex2 = (n: number): string => n.toString(16).padStart(2, '0')

/** The MAC of the in-VM bridge (xcluster's brsetup): 00:00:01:01:<net hex>:<vm hex>. */
export function bridgeMac(net: number, vm: number): string {
  return `00:00:01:01:${hex2(net)}:${hex2(vm)}`
}

/** Nodes and testers: the flat subnet on eth1, whatever host net eth1 is on. */
function member(vm: VmPlan, plan: ClusterPlan): VmNetConfig {
  const p = plan.prefix
  const eth1 = vm.nics[1]
  if (!eth1) return { addresses: [] }
  const routes: RouteConfig[] = [{ dst: 'default', via: [], dev: eth1.ifname, family: 6 }]
  // IPv4 default through the bridge VM, whose NAT is the way out (see notes).
  const br = routers(plan)[0]
  if (br && br.nics.length > 2) routes.unshift({ dst: 'default', via: [ipv4Of(NET, br.num)], family: 4 })
  else routes.unshift({ dst: 'default', via: [], dev: eth1.ifname, family: 4 })
  return { addresses: std(vm, eth1.ifname, NET, p), routes }
}

export const bridge: Topology = {
  name: 'bridge',
  summary: 'One flat subnet 192.168.1.0/24 over nodes (net 1) and testers (net 2), bridged at L2 by vm-201 (br1), which NATs it',
  defaults: () => ({ nrouters: 1, memVm: { 201: 128 } }),
  vmConfig(vm, plan): VmNetConfig {
    const p = plan.prefix
    if (vm.role !== 'router') return member(vm, plan)
    // Only the first router bridges: a second bridge between the same nets would make a loop (no STP).
    if (vm.num !== routers(plan)[0]?.num || vm.nics.length < 3) return { addresses: stdAll(vm, p) }
    const ports = [vm.nics[1].ifname, vm.nics[2].ifname]
    return {
      bridges: [{ name: 'br1', mac: bridgeMac(NET, vm.num), members: ports }],
      addresses: [
        { dev: 'br1', cidr: `${ipv4Of(NET, vm.num)}/24` },
        { dev: 'br1', cidr: `${ipv6Of(NET, vm.num, p)}/120` },
        ...vm.nics.slice(3).flatMap((n) => std(vm, n.ifname, n.net, p)),
      ],
      forwarding: true,
      routes: [hostDefault()],
      nat: natOut([NET]),
    }
  },
  notes: [
    'Nodes and testers have IPv4 `default via 192.168.1.201` instead of the original\'s on-link `default dev eth1`: nothing answered ARP for off-subnet addresses (no proxy-ARP), so the NAT of vm-201 could not be used. IPv6 keeps the on-link default (no IPv6 leaves the cluster anyway).',
    'Only the first router bridges; further routers (nrouters > 1) get std addresses only, since a second bridge between nets 1 and 2 would make a loop.',
    'Testers are addressed on net 1 (192.168.1.22x) on eth1, which is attached to host net 2; the picture\'s std 192.168.2.x labels for them are not configured.',
    '/etc/hosts comes from the plan, so it lists the std net-2 names of testers, which are not configured (as the original\'s stale entries).',
    'The original had no test for this topology; the experiment pings across the bridge both ways.',
    'Bridge mode only: in user mode the nets are QEMU multicast sockets, which hand every frame back to its sender, so br1 in vm-201 re-forwards its own frames (a broadcast storm, MACs learned on the wrong port).',
  ],
  diagram: (plan) => configExtras(bridge, plan, ['vm-201 bridges net 1 and net 2 (br1): one subnet 192.168.1.0/24 for nodes and testers.']),
}
