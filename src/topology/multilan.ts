// multilan: xnet plus extra un-addressed LANs (nets 3, 4, 5) on the nodes,
// for software that assigns its own addresses (Multus, NSM, DANM).
import type { Topology } from './types.ts'
import { defaultViaHops, hostDefault, natOut, routerHops, stdOn, usableHops } from './common.ts'
import { configExtras } from './diagram.ts'

export const multilan: Topology = {
  name: 'multilan',
  summary: 'xnet with extra un-addressed LANs (nets 3, 4, 5) on the nodes',
  defaults: () => ({
    nrouters: 2,
    netsVm: [0, 1, 3, 4, 5],
    memVm: { 201: 128, 202: 128 },
    smpVm: Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 8].map((v) => [v, 3])),
  }),
  vmConfig(vm, plan) {
    const p = plan.prefix
    // Only nets 1 and 2 are addressed; the extra LANs stay unconfigured and down.
    const addresses = stdOn(vm, [1, 2], p)
    if (vm.role === 'router') return { addresses, forwarding: true, routes: [hostDefault()], nat: natOut([1, 2]) }
    const net = vm.role === 'node' ? 1 : 2
    return { addresses, routes: defaultViaHops(usableHops(plan, vm, routerHops(plan, net)), p) }
  },
  notes: [
    'The ECMP next hops are the routers that exist in the plan (the original defaulted __nrouters to 2 in the rc).',
    'Only the NICs on nets 1 and 2 are addressed (eth1 of nodes, testers; eth1/eth2 of routers); the extra LANs stay down, as in the original.',
    'VMs 1-8 default to 3 vCPUs (__smp1..8=3); a user\'s smp/smpVm wins.',
  ],
  diagram: (plan) => configExtras(multilan, plan, ['Nets 3-5: extra LANs on the nodes, no addresses, left down.']),
}
