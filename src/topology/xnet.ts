// xnet, the default xcluster network: cluster net 1 and tester net 2 joined
// by ECMP routers that NAT towards the host on net 0.
import type { Topology } from './types.ts'
import { defaultVia, hostDefault, natOut, routers, stdAll } from './common.ts'

export const xnet: Topology = {
  name: 'xnet',
  summary: 'Nodes on net 1, testers on net 2, ECMP routers between them; routers NAT towards the host',
  defaults: () => ({ nrouters: 2, memVm: { 201: 128, 202: 128 } }),
  vmConfig(vm, plan) {
    const p = plan.prefix
    const r = routers(plan).map((x) => x.num)
    const addresses = stdAll(vm, p)
    if (vm.role === 'node') return { addresses, routes: defaultVia(r, 1, p) }
    if (vm.role === 'tester') return { addresses, routes: defaultVia(r, 2, p) }
    return { addresses, forwarding: true, routes: [hostDefault()], nat: natOut([1, 2]) }
  },
  notes: ['The ECMP next hops are the routers that exist in the plan (the original defaulted __nrouters to 2 in the rc).'],
}
