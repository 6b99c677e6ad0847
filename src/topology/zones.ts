// zones: nodes spread over three subnets ("zones") behind one router: VMs
// 10-19 on net 3, 20-29 on net 4, the others on net 1; testers on net 2.
import type { Topology } from './types.ts'
import { defaultViaHops, natOut, hostDefault, routers, stdAll, usableHops } from './common.ts'
import { configExtras } from './diagram.ts'

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

export const zones: Topology = {
  name: 'zones',
  summary: 'Nodes in three zones (net 1; VMs 10-19 on net 3; VMs 20-29 on net 4) behind router vm-201; testers on net 2',
  defaults: () => ({
    netsVm: [0, 1],
    netsRouter: [0, 1, 2, 3, 4],
    nets: Object.fromEntries([...range(10, 19).map((v) => [v, [0, 3]]), ...range(20, 29).map((v) => [v, [0, 4]])]),
    smpVm: { 201: 3, 202: 3 },
    memVm: { 201: 192, 202: 192 },
  }),
  vmConfig(vm, plan) {
    const p = plan.prefix
    const addresses = stdAll(vm, p)
    if (vm.role === 'router') {
      // Every router alike (the original configured 201 and 202 the same way).
      return { addresses, forwarding: true, routes: [hostDefault()], nat: natOut([1, 2, 3, 4]) }
    }
    // The zone is the net of eth1 (net 3 or 4 for the zone VMs, 1 for other nodes, 2 for testers).
    const net = vm.nics[1]?.net
    const first = routers(plan)[0]
    if (net === undefined || !first) return { addresses }
    return { addresses, routes: defaultViaHops(usableHops(plan, vm, [[first.num, net]]), p) }
  },
  notes: [
    'VMs 10-19 have nets 0,3 and VMs 20-29 nets 0,4 (the original listed only 10-13 and 20-23, so 14-19 and 24-29 had eth1 on net 1 but addressed as net 3/4).',
    'Roles go by number ranges: nodes 100-199, routers 210-220 and testers 230-240 are set up too (the original\'s vm-0* patterns left them unconfigured).',
    'A node\'s zone is the net of its eth1, so address and default route always follow its net list.',
    'The default route of nodes and testers goes through the first router of the plan (vm-201 by default).',
    '/etc/hosts comes from the plan, so the zone VMs are listed with their real addresses.',
    'The zone VMs are not part of nvm: add them with extraVms (the original scaled out 10 11 20 21).',
  ],
  diagram: (plan) => configExtras(zones, plan, ['Zones: net 1 (nodes), net 3 (VMs 10-19), net 4 (VMs 20-29); default via vm-201.']),
}
