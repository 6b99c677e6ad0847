// evil_tester: the "evil tester" vm-222 sits in the path between the
// routers and the real testers, so it can tamper with the traffic:
// net1 - routers (ECMP) - net3 - vm-222 - net2 - vm-221.
import type { Topology } from './types.ts'
import { defaultViaHops, routerConfig, routerHops, stdAll, usableHops } from './common.ts'
import { configExtras } from './diagram.ts'

/** The evil tester. */
export const EVIL = 222

export const evilTester: Topology = {
  name: 'evil_tester',
  summary: 'The evil tester vm-222 forwards between the routers (net 3) and the other testers (net 2)',
  defaults: () => ({
    ntesters: 2,
    netsRouter: [0, 1, 3],
    nets: { 221: [0, 2], 222: [0, 3, 2] },
  }),
  vmConfig(vm, plan) {
    const p = plan.prefix
    if (vm.role === 'router') {
      return routerConfig(vm, plan, { hostDefault: true, routes: [[2, [[EVIL, 3]]]], nat: [1, 2] })
    }
    if (vm.role === 'node') return { addresses: stdAll(vm, p), routes: defaultViaHops(usableHops(plan, vm, routerHops(plan, 1)), p) }
    if (vm.num === EVIL) {
      return { addresses: stdAll(vm, p), forwarding: true, routes: defaultViaHops(usableHops(plan, vm, routerHops(plan, 3)), p) }
    }
    return { addresses: stdAll(vm, p), routes: defaultViaHops(usableHops(plan, vm, [[EVIL, 2]]), p) }
  },
  notes: [
    'The ECMP next hops of nodes and vm-222 are the routers that exist in the plan (the original had no fallback for __nrouters).',
    'Testers other than vm-222 (vm-221, and vm-223.. if asked for) are real testers behind vm-222; the original set 223+ up as nodes.',
    'DISABLE_MASQUERADE is not offered: the routers always NAT nets 1 and 2.',
    'The default ntesters is 2 when unset; an explicit ntesters is kept, since a topology\'s defaults apply under the user\'s options (the original forced exactly 2).',
    'vm-222 is on net 0 like every VM, so it reaches the host alias 192.168.0.250 directly, without the routers\' NAT.',
  ],
  diagram: (plan) => configExtras(evilTester, plan, ['vm-222 forwards between net 3 (routers) and net 2 (testers).']),
}
