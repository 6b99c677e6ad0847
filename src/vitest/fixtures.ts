// The Vitest fixtures: `clusterOptions` (an option fixture, overridable per
// file with test.override) and `cluster` (one cluster per file by default,
// stopped after the file's last test, also when tests fail). A failing test
// gets the tail of every VM's console log attached.
import { test as base, expect, vi } from 'vitest'
import { stopOwned } from '../cluster/owner.ts'
import { startCluster } from '../cluster/start-cluster.ts'
import type { RunningCluster } from '../cluster/running-cluster.ts'
import type { ClusterOptions } from '../cluster/options.ts'
import { installMatchers } from './matchers.ts'

export { expect }
export type { ClusterOptions, RunningCluster }

installMatchers()

/**
 * The least time a test of a file that uses these fixtures gets: its first
 * test boots the file's cluster, which under TCG takes tens of seconds, and
 * a boot that is too slow must fail with VmBootError (whose bound is about
 * 100 s for a small cluster), not with Vitest's default of 5 s. A larger
 * testTimeout or hookTimeout in the user's config stays as it is.
 */
export const MIN_TEST_TIMEOUT = 300_000
export const MIN_HOOK_TIMEOUT = 120_000

/** Raise this file's test and hook timeouts to the minimums above (vi.setConfig applies to the file that imports this). */
function raiseTimeouts(): void {
  const config = (globalThis as { __vitest_worker__?: { config?: { testTimeout?: number; hookTimeout?: number } } }).__vitest_worker__?.config
  if (!config) return
  vi.setConfig({
    testTimeout: Math.max(config.testTimeout ?? 0, MIN_TEST_TIMEOUT),
    hookTimeout: Math.max(config.hookTimeout ?? 0, MIN_HOOK_TIMEOUT),
  })
}
raiseTimeouts()

/**
 * A worker whose parent is gone (a CI runner that cancels a job signals
 * Vitest's main process only, and the forked worker lives on, orphaned)
 * stops the clusters it owns and ends.
 */
function stopWhenOrphaned(): void {
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    void stopOwned().finally(() => process.exit(1))
  }, 500)
  timer.unref()
}
stopWhenOrphaned()

/** Clusters started by this worker that are still running, for console tails on failure. */
const live = new Set<RunningCluster>()

/** The console tails of `cluster`'s VMs, one section each. */
export function consoleReport(cluster: RunningCluster, lines = 25): string {
  return cluster.vms.map((vm) => `--- ${vm.name} console (last ${lines} lines) ---\n${vm.consoleTail(lines)}`).join('\n')
}

/**
 * The options the fixture starts a cluster with: the std addresses on every
 * NIC unless a topology sets up its own (or the options say otherwise).
 */
export function fixtureOptions(options: ClusterOptions): ClusterOptions {
  return options.topology === undefined && options.stdAddresses === undefined ? { ...options, stdAddresses: true } : options
}

/** A cluster started from `clusterOptions`, stopped by onCleanup. */
async function clusterFixture(
  { clusterOptions }: { clusterOptions: ClusterOptions },
  { onCleanup }: { onCleanup: (fn: () => Promise<void>) => void },
): Promise<RunningCluster> {
  const cluster = await startCluster(fixtureOptions(clusterOptions))
  live.add(cluster)
  onCleanup(async () => {
    live.delete(cluster)
    await cluster.stop()
  })
  return cluster
}

export const test = base
  .extend('clusterOptions', { scope: 'file' }, {} as ClusterOptions)
  .extend('cluster', { scope: 'file' }, clusterFixture)
  .extend('consoleOnFailure', { auto: true }, async ({ onTestFailed }) => {
    // Annotations are closed once a test has failed, so the console tails
    // join the test's errors: every reporter shows them under the failure.
    onTestFailed(({ task }) => {
      for (const c of live) {
        task.result?.errors?.push({
          name: 'VmConsole',
          message: `console of cluster ${c.name} (${c.id}), for the failure above:\n${consoleReport(c)}`,
          stack: '',
        } as never)
      }
    })
    return undefined
  })

export const it = test
export const describe = base.describe
