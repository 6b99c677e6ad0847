// multilan-router: multilan where router vm-202 is also on the extra LANs
// (nets 3-5), which are addressed from the template 169.254.0.0/20/24:
// net n, VM v -> 169.254.n.v/24 and P:169.254.n.v/120.
import type { VmPlan } from '../plan/plan.ts'
import type { AddressConfig, Topology } from './types.ts'
import { defaultViaHops, hostDefault, natOut, routerHops, stdOn, usableHops } from './common.ts'
import { configExtras } from './diagram.ts'

/** The extra LANs. */
export const XLAN_NETS = [3, 4, 5]

/** The address of VM `vm` on extra LAN `net` (xcluster's mkadr with template 169.254.0.0/20/24). */
export function xlanAddress(net: number, vm: number): string {
  if (net > 15 || vm > 255) throw new Error(`169.254.0.0/20/24 has no address for net ${net}, vm ${vm}`)
  return `169.254.${net}.${vm}`
}

/** The extra-LAN addresses of `vm`'s NICs on nets 3-5: <adr>/24 and P:<adr>/120. */
function xlan(vm: VmPlan, prefix: string): AddressConfig[] {
  return vm.nics
    .filter((n) => XLAN_NETS.includes(n.net))
    .flatMap((n) => [
      { dev: n.ifname, cidr: `${xlanAddress(n.net, vm.num)}/24` },
      { dev: n.ifname, cidr: `${prefix}:${xlanAddress(n.net, vm.num)}/120` },
    ])
}

export const multilanRouter: Topology = {
  name: 'multilan-router',
  summary: 'multilan with router vm-202 also on the extra LANs 3-5, which are addressed 169.254.<net>.<vm>',
  defaults: () => ({
    nrouters: 2,
    netsVm: [0, 1, 3, 4, 5],
    nets: { 202: [0, 1, 2, 3, 4, 5] },
    memVm: { 201: 128, 202: 128 },
    smp: 3,
    smpVm: { 202: 3 },
  }),
  vmConfig(vm, plan) {
    const p = plan.prefix
    const addresses = stdOn(vm, [1, 2], p)
    if (vm.role === 'router') {
      return { addresses: [...addresses, ...xlan(vm, p)], forwarding: true, routes: [hostDefault()], nat: natOut([1, 2]) }
    }
    if (vm.role === 'tester') return { addresses, routes: defaultViaHops(usableHops(plan, vm, routerHops(plan, 2)), p) }
    return { addresses: [...addresses, ...xlan(vm, p)], routes: defaultViaHops(usableHops(plan, vm, routerHops(plan, 1)), p) }
  },
  notes: [
    'The extra-LAN addressing (the original\'s XLAN_TEMPLATE) is always on, with the template of its test, 169.254.0.0/20/24: net n, VM v -> 169.254.n.v/24 and P:169.254.n.v/120.',
    'Every node and router NIC on nets 3-5 gets its extra-LAN address (vm-202 and the nodes by default); testers get none.',
    'No routes are added for the extra LANs (vm-202 is directly attached), as in the original.',
    'The ECMP next hops are the routers that exist in the plan.',
    'The global default smp is 3 (the original raised __smp to 3 if unset or lower); a user\'s smp wins.',
  ],
  diagram: (plan) => configExtras(multilanRouter, plan, ['Nets 3-5: extra LANs of the nodes and vm-202, addressed 169.254.<net>.<vm>/24.']),
}
