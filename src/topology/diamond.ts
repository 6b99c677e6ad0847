// diamond: the simplest multi-path network: edge routers 201 (nodes' side)
// and 202 (testers' side) joined by an upper path through 203 (nets 3, 5)
// and a lower path through 204 (nets 4, 6); the edges route multipath.
import type { Topology } from './types.ts'
import { edgeRoutedConfig, type RouterSpec } from './common.ts'
import { configExtras } from './diagram.ts'

const ROUTERS: Record<number, RouterSpec> = {
  201: { hostDefault: true, routes: [[2, [[203, 3], [204, 4]]]], nat: [1] },
  202: { hostDefault: true, routes: [[1, [[203, 5], [204, 6]]]], nat: [2] },
  203: { routes: [[1, [[201, 3]]], [2, [[202, 5]]]] },
  204: { routes: [[1, [[201, 4]]], [2, [[202, 6]]]] },
}

export const diamond: Topology = {
  name: 'diamond',
  summary: 'Edge routers 201 and 202 joined by two paths (via 203 on nets 3/5, via 204 on nets 4/6), multipath at the edges',
  defaults: () => ({
    nrouters: 4,
    ntesters: 1,
    nets: { 201: [0, 1, 3, 4], 202: [0, 2, 5, 6], 203: [0, 3, 5], 204: [0, 4, 6] },
    memVm: { 201: 128, 202: 128, 203: 128, 204: 128 },
  }),
  vmConfig: edgeRoutedConfig(ROUTERS),
  notes: [
    'A multipath route keeps only the next hops whose router is in the plan.',
    'The default ntesters is 1 when unset; an explicit ntesters is kept, since a topology\'s defaults apply under the user\'s options (the original forced 1 on 0).',
    'Routers beyond 204 get std addresses only.',
  ],
  diagram: (plan) => configExtras(diamond, plan, ['Upper path: vm-201 - net3 - vm-203 - net5 - vm-202; lower path: vm-201 - net4 - vm-204 - net6 - vm-202.']),
}
