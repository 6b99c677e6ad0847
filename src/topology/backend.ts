// backend: nodes have a private backend net (net 1, eth1) and a frontend net
// (net 3, eth2) towards the routers; testers on net 2.
import type { Topology } from './types.ts'
import { defaultViaHops, hostDefault, natOut, routers, stdAll, usableHops } from './common.ts'
import { configExtras } from './diagram.ts'

export const backend: Topology = {
  name: 'backend',
  summary: 'Nodes on a private backend net 1 and a frontend net 3; routers between net 3 and the testers\' net 2',
  defaults: () => ({
    nrouters: 2,
    netsVm: [0, 1, 3],
    netsRouter: [0, 3, 2],
    memVm: { 201: 128, 202: 128 },
  }),
  vmConfig(vm, plan) {
    const p = plan.prefix
    const addresses = stdAll(vm, p)
    if (vm.role === 'router') return { addresses, forwarding: true, routes: [hostDefault()], nat: natOut([3, 2]) }
    const first = routers(plan)[0]
    if (!first) return { addresses }
    const net = vm.role === 'node' ? 3 : 2
    return { addresses, routes: defaultViaHops(usableHops(plan, vm, [[first.num, net]]), p) }
  },
  notes: [
    'The default route of nodes and testers goes through the first router of the plan (vm-201 by default), as in the original; the other routers NAT but carry nothing.',
    'The backend net 1 is directly connected only: nothing routes it, so testers cannot reach 192.168.1.x.',
  ],
  diagram: (plan) => configExtras(backend, plan, ['net 1: backend (nodes only); net 3: frontend; net 2: testers.']),
}
