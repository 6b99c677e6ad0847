// xcluster/vitest: the fixtures, the matchers and the topology suite.
export { test, it, describe, expect, consoleReport, type ClusterOptions, type RunningCluster } from './fixtures.ts'
export { topologySuite, writeDiagram, type TopologyChecks } from './topology-suite.ts'
export type { StartContext, CustomStart } from '../cluster/start-context.ts'
export { waitUntil } from '../cluster/wait-until.ts'
