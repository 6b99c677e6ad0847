// dual-path: two fully separate paths between nodes and testers, for
// multi-homing and multi-path tests (MPTCP, SCTP).
//   path A: net1 - 201 - net3 - 203 - net2
//   path B: net4 - 202 - net5 - 204 - net6
// Nodes and testers use path A by default and path B for their second NIC
// (policy routing: oif of the path-B NIC -> table 300 v4 / 301 v6).
import type { Topology, VmNetConfig } from './types.ts'
import { defaultViaHops, netViaHops, nicOn, routerConfig, stdAll, usableHops, type Hop, type RouterSpec } from './common.ts'
import { configExtras } from './diagram.ts'

const ROUTERS: Record<number, RouterSpec> = {
  201: { hostDefault: true, routes: [[2, [[203, 3]]], [6, [[203, 3]]]], nat: [1] },
  203: { hostDefault: true, routes: [[1, [[201, 3]]], [4, [[201, 3]]]], nat: [2] },
  // The path-B routers do not NAT (as in the original).
  202: { hostDefault: true, routes: [[6, [[204, 5]]], [2, [[204, 5]]]] },
  204: { hostDefault: true, routes: [[4, [[202, 5]]], [1, [[202, 5]]]] },
}

/** A node's or tester's two paths: [net, router] of path A and of path B, and the far net of path B. */
const ENDS = {
  node: { a: [201, 1] as Hop, b: [202, 4] as Hop, farB: 6 },
  tester: { a: [203, 2] as Hop, b: [204, 6] as Hop, farB: 4 },
}

export const dualPath: Topology = {
  name: 'dual-path',
  summary: 'Two separate routed paths between nodes and testers (net1-201-net3-203-net2 and net4-202-net5-204-net6), policy routing on the second NIC',
  defaults: () => ({
    nrouters: 4,
    ntesters: 2,
    netsVm: [0, 1, 4],
    netsTester: [0, 2, 6],
    nets: { 201: [0, 1, 3], 202: [0, 4, 5], 203: [0, 3, 2], 204: [0, 5, 6] },
    memVm: { 201: 128, 202: 128, 203: 128, 204: 128 },
  }),
  vmConfig(vm, plan): VmNetConfig {
    const p = plan.prefix
    if (vm.role === 'router') {
      const spec = ROUTERS[vm.num]
      return spec ? routerConfig(vm, plan, spec) : { addresses: stdAll(vm, p) }
    }
    const end = ENDS[vm.role]
    const a = usableHops(plan, vm, [end.a])
    const b = usableHops(plan, vm, [end.b])
    const bNic = nicOn(vm, end.b[1])
    const cfg: VmNetConfig = {
      addresses: stdAll(vm, p),
      routes: [...defaultViaHops(a, p), ...netViaHops(end.farB, b, p), ...defaultViaHops(b, p, { v4: 300, v6: 301 })],
    }
    if (bNic) {
      cfg.rules = [
        { oif: bNic.ifname, table: 300, family: 4 },
        { oif: bNic.ifname, table: 301, family: 6 },
      ]
    }
    return cfg
  },
  notes: [
    'Every tester gets net 6 (netsTester 0,2,6); the original gave it only to vm-221 and vm-222, so a third tester had no path B.',
    'The policy rule uses the NIC on the path-B net (net 4 for nodes, net 6 for testers), eth2 with the default net lists.',
    'CROSSROUTE (host routes to a VM\'s other-net address) is not offered: it hard-coded VMs 1-4 and testers 221-222.',
    'Routes through a router that is not in the plan are left out; routers beyond 204 get std addresses only.',
    'The default ntesters is 2 when unset; an explicit ntesters (even 0) is kept, since a topology\'s defaults apply under the user\'s options (the original forced 2 on 0).',
    'Router memory 128 MiB is a default, so a user\'s memVm wins (as the original\'s "if unset").',
  ],
  diagram: (plan) => configExtras(dualPath, plan, ['Path A: net1 - vm-201 - net3 - vm-203 - net2. Path B: net4 - vm-202 - net5 - vm-204 - net6 (no NAT).']),
}
