// The standard xcluster topologies, by name.
import type { Topology } from './types.ts'
import { xnet } from './xnet.ts'

/** Every known topology. */
export const TOPOLOGIES: Record<string, Topology> = Object.fromEntries([xnet].map((t) => [t.name, t]))

/** The topology called `name`, or undefined. */
export function getTopology(name: string): Topology | undefined {
  return TOPOLOGIES[name]
}
