// multihop: a linear chain of three routers between nodes and testers, for
// PMTU and traceroute tests: net1 - 201 - net3 - 202 - net4 - 203 - net2.
import type { Topology } from './types.ts'
import { defaultViaHops, routerConfig, stdAll, usableHops, type Hop, type RouterSpec } from './common.ts'
import { configExtras } from './diagram.ts'

const ROUTERS: Record<number, RouterSpec> = {
  // 201 -> net 4 and 203 -> net 3 are the fix of the original's unrouted transit nets.
  201: { hostDefault: true, routes: [[2, [[202, 3]]], [4, [[202, 3]]]], nat: [1] },
  202: { hostDefault: true, routes: [[1, [[201, 3]]], [2, [[203, 4]]]] },
  203: { hostDefault: true, routes: [[1, [[202, 4]]], [3, [[202, 4]]]], nat: [2] },
}

export const multihop: Topology = {
  name: 'multihop',
  summary: 'A chain of three routers: net1 - 201 - net3 - 202 - net4 - 203 - net2',
  defaults: () => ({
    nrouters: 3,
    netsVm: [0, 1],
    nets: { 201: [0, 1, 3], 202: [0, 3, 4], 203: [0, 4, 2] },
    memVm: { 201: 128, 202: 128, 203: 128 },
  }),
  vmConfig(vm, plan) {
    const p = plan.prefix
    if (vm.role === 'router') {
      const spec = ROUTERS[vm.num]
      return spec ? routerConfig(vm, plan, spec) : { addresses: stdAll(vm, p) }
    }
    const hop: Hop = vm.role === 'node' ? [201, 1] : [203, 2]
    return { addresses: stdAll(vm, p), routes: defaultViaHops(usableHops(plan, vm, [hop]), p) }
  },
  notes: [
    'The transit nets are routed end to end: vm-201 has 192.168.4.0/24 and vm-203 192.168.3.0/24 via vm-202 (v4+v6); the original left them unrouted.',
    'Every IPv6 route is written with an explicit family (ip -6); the original relied on ip inferring it.',
    'Router memory 128 MiB is a default, so a user\'s memVm wins (the original set it unconditionally and then again "if unset").',
    'Routes through a router that is not in the plan are left out; routers beyond 203 get std addresses only.',
  ],
  diagram: (plan) => configExtras(multihop, plan, ['Chain: net1 - vm-201 (NAT) - net3 - vm-202 - net4 - vm-203 (NAT) - net2.']),
}
