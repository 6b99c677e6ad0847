// The standard xcluster topologies, by name.
import type { Topology } from './types.ts'
import { xnet } from './xnet.ts'
import { dualPath } from './dual-path.ts'
import { multihop } from './multihop.ts'
import { zones } from './zones.ts'
import { backend } from './backend.ts'
import { bridge } from './bridge.ts'
import { multilan } from './multilan.ts'
import { multilanRouter } from './multilan-router.ts'
import { evilTester } from './evil-tester.ts'
import { diamond } from './diamond.ts'
import { xDiamond } from './x-diamond.ts'

/** Every known topology. */
export const TOPOLOGIES: Record<string, Topology> = Object.fromEntries(
  [xnet, dualPath, multihop, zones, backend, bridge, multilan, multilanRouter, evilTester, diamond, xDiamond].map((t) => [t.name, t]),
)

/** The topology called `name`, or undefined. */
export function getTopology(name: string): Topology | undefined {
  return TOPOLOGIES[name]
}
