// xcluster/vitest: the fixtures, the matchers and the topology suite.
export { test, it, describe, expect, consoleReport, type ClusterOptions, type RunningCluster } from './fixtures.ts'
// Re-exported from matchers.ts so that its declarations (the `declare module 'vitest'` that types
// expect(vm).toReach and expect(cluster).toHaveReachability) reach a user's project through this entry's.
export { checkReachability, type ReachabilitySpec, type ReachabilityResult } from './matchers.ts'
export { topologySuite, writeDiagram, type TopologyChecks } from './topology-suite.ts'
export type { StartContext, CustomStart } from '../cluster/start-context.ts'
export { waitUntil } from '../cluster/wait-until.ts'
