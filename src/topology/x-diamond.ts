// x-diamond: an extended diamond with two routers per path (upper 203 ->
// 205, lower 204 -> 206) and four cross-links (nets 9-12) that no route
// uses, left for experiments such as SRv6 steering.
import type { Topology } from './types.ts'
import { edgeRoutedConfig, type RouterSpec } from './common.ts'
import { configExtras } from './diagram.ts'

const ROUTERS: Record<number, RouterSpec> = {
  201: { hostDefault: true, routes: [[2, [[203, 3], [204, 4]]]], nat: [1] },
  202: { hostDefault: true, routes: [[1, [[205, 7], [206, 8]]]], nat: [2] },
  203: { routes: [[1, [[201, 3]]], [2, [[205, 5]]]] },
  204: { routes: [[1, [[201, 4]]], [2, [[206, 6]]]] },
  205: { routes: [[1, [[203, 5]]], [2, [[202, 7]]]] },
  206: { routes: [[1, [[204, 6]]], [2, [[202, 8]]]] },
}

export const xDiamond: Topology = {
  name: 'x-diamond',
  summary: 'Diamond with two routers per path (203->205, 204->206) and un-routed cross-links 9-12',
  defaults: () => ({
    nrouters: 6,
    ntesters: 1,
    nets: {
      201: [0, 1, 3, 4],
      202: [0, 2, 7, 8],
      203: [0, 3, 5, 9, 11],
      204: [0, 4, 6, 9, 12],
      205: [0, 5, 7, 10, 12],
      206: [0, 6, 8, 10, 11],
    },
    memVm: { 201: 128, 202: 128, 203: 128, 204: 128, 205: 128, 206: 128 },
  }),
  vmConfig: edgeRoutedConfig(ROUTERS),
  notes: [
    'A multipath route keeps only the next hops whose router is in the plan.',
    'The default ntesters is 1 when unset; an explicit ntesters is kept, since a topology\'s defaults apply under the user\'s options (the original forced 1 on 0).',
    'Routers beyond 206 get std addresses only.',
    'The original\'s test was not in its run-all list; here it is an experiment like the others.',
  ],
  diagram: (plan) =>
    configExtras(xDiamond, plan, [
      'Paths: 201 -3- 203 -5- 205 -7- 202 and 201 -4- 204 -6- 206 -8- 202.',
      'Cross-links (addressed, not routed): 9 (203-204), 10 (205-206), 11 (203-206), 12 (204-205).',
    ]),
}
