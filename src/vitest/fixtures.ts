// The Vitest fixtures: `clusterOptions` (an option fixture, overridable per
// file with test.override) and `cluster` (one cluster per file by default,
// stopped after the file's last test, also when tests fail). A failing test
// gets the tail of every VM's console log attached.
import { makeLogger, type Logger } from '../log.ts'
import { test as base, expect, vi } from 'vitest'
import { randomBytes } from 'node:crypto'
import { disown, own, stopOwned } from '../cluster/owner.ts'
import { ClusterConfigError } from '../errors.ts'
import { vmRuns } from '../pure/check.ts'
import { formatRcFailures } from '../pure/rc-failure.ts'
import type { ProgressEvent } from '../plan/spec.ts'
import { attachClusterReport, dropScratch, reportScratch, type Annotate } from './failure-report.ts'
import { startCluster } from '../cluster/start-cluster.ts'
import type { RunningCluster } from '../cluster/running-cluster.ts'
import type { ClusterOptions } from '../cluster/options.ts'
import { installMatchers } from './matchers.ts'
import { onVerbEvent, overNominal, verbLine } from '../cluster/verb-log.ts'

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

/**
 * The console tails of `cluster`'s VMs, one section each, with the rc
 * scripts that failed at boot; the VMs that printed nothing are named on
 * one line instead of an empty section each.
 */
export function consoleReport(cluster: RunningCluster, lines = 25): string {
  const parts: string[] = []
  const quiet: number[] = []
  for (const vm of cluster.vms) {
    if (vm.rcFailures.length) parts.push(`--- ${vm.name} rc scripts that failed at boot ---\n${formatRcFailures(vm.name, vm.rcFailures)}`)
    if (vm.console().trim() === '') quiet.push(vm.num)
    else parts.push(`--- ${vm.name} console (last ${lines} lines) ---\n${vm.consoleTail(lines)}`)
  }
  if (quiet.length) parts.push(`--- nothing on the console of ${vmRuns(quiet)} ---`)
  return parts.join('\n')
}

/**
 * The options the fixture starts a cluster with: the std addresses on every
 * NIC unless a topology sets up its own, and an rc script that fails at boot
 * a VmBootError (the first test fails at once, naming it, instead of its
 * polls timing out later), unless the options say otherwise.
 */
export function fixtureOptions(options: ClusterOptions): ClusterOptions {
  const std = options.topology === undefined && options.stdAddresses === undefined ? { stdAddresses: true } : {}
  return { rcFailures: 'fail', ...options, ...std }
}

/** When a file's cluster stays up after the run: never (the default), always, or when a test of the file failed. */
export type Keep = 'never' | 'always' | 'on-failure'
const KEEPS: Keep[] = ['never', 'always', 'on-failure']

/** The keep of the environment (XCLUSTER_KEEP), checked. */
export function keepFromEnv(env: NodeJS.ProcessEnv = process.env): Keep {
  const v = env.XCLUSTER_KEEP
  if (v === undefined || v === '') return 'never'
  if (!KEEPS.includes(v as Keep)) throw new ClusterConfigError([`Expected XCLUSTER_KEEP to be ${KEEPS.join(', ')}, got \`${v}\``])
  return v as Keep
}

/** A capture per test: interface `iface` of VM `vm` (needs tools), its pcap attached when the test fails. */
export interface CaptureSpec {
  vm: number | string
  iface: string
  filter?: string
}

/** The clusters whose rc failures a test's report has (rcFailures: 'report'). */
const rcReported = new WeakSet<RunningCluster>()

/** A test of this file failed (each test file has its own module instance). */
let fileFailed = false

/** How to reach a kept cluster, for the run's output. */
function keptMessage(c: RunningCluster): string {
  return [
    `xcluster: cluster ${c.name} (${c.id}) is kept running after this run. Reach it with:`,
    `  xc vm 1 --name=${c.name}     xc rsh --name=${c.name} 1 hostname     xc status --name=${c.name}`,
    `  and remove it with: xc stop --name=${c.name}`,
  ].join('\n') + '\n'
}

/**
 * The fixture's logger: through the console, which Vitest gives to the test
 * (or hook) running at the time, so that what a cluster says lands in that
 * test's output in every reporter; warnings and errors on its stderr.
 */
export const testLogger = (): Logger => makeLogger((line, level) => (level === 'warn' || level === 'error' ? console.warn(line) : console.log(line)))

/** Progress for a slow boot: VMs up out of total, once the start has taken 5 s. */
function progressLine(log: Logger): (e: ProgressEvent) => void {
  return (e) => {
    if (e.kind === 'booting' || e.elapsedMs < 5000) return
    log.info(`${e.vm} ${e.kind}, ${e.ready}/${e.total} up after ${(e.elapsedMs / 1000).toFixed(1)} s`)
  }
}

/** When the file's cluster goes back to its snapshot: never (the default), or before each test but the first (`'each'`, which turns `snapshot` on). */
export type Reset = 'never' | 'each'

/** A test of this file has run on the cluster since its start or its last restore. */
let dirty = false

/** A cluster started from `clusterOptions`; stopped after the file's last test unless it is to be kept. */
async function clusterFixture(
  { clusterOptions, keep, captures, reset }: { clusterOptions: ClusterOptions; keep: Keep; captures: CaptureSpec[]; reset: Reset },
  { onCleanup }: { onCleanup: (fn: () => Promise<void>) => void },
): Promise<RunningCluster> {
  // A cluster that may be kept is started detached (its keeper outlives this worker) and named, for xc.
  const kept = keep !== 'never'
  const name = clusterOptions.name ?? (kept ? `keep-${randomBytes(3).toString('hex')}` : 'default')
  if (reset !== 'never' && reset !== 'each') throw new ClusterConfigError([`Expected the fixture option \`reset\` to be 'never' or 'each', got \`${String(reset)}\``])
  const logger = clusterOptions.logger ?? testLogger()
  const options = {
    ...fixtureOptions(clusterOptions), name, logger, onProgress: clusterOptions.onProgress ?? progressLine(logger.child(`cluster ${name}`)),
    ...(reset === 'each' ? { snapshot: clusterOptions.snapshot ?? true } : {}),
  }
  if (reset === 'each' && options.snapshot === false) throw new ClusterConfigError(["The fixture option `reset: 'each'` goes back to the cluster's snapshot: drop `snapshot: false`"])
  const cluster = await startCluster(options, { detached: kept })
  // Owned all the same: a signal to this worker stops it.
  if (kept) own(cluster)
  live.add(cluster)
  // The first test's captures (the later tests' start in capturePerTest).
  for (const c of captures) await cluster.vm(c.vm).startCapture(c.iface, c.filter)
  onCleanup(async () => {
    live.delete(cluster)
    if (keep === 'always' || (keep === 'on-failure' && fileFailed)) {
      disown(cluster)
      await Promise.all(cluster.vms.map((vm) => vm.closeChannel()))
      console.warn(keptMessage(cluster).trimEnd())
      return
    }
    await cluster.stop()
  })
  return cluster
}

/**
 * Vitest accepts annotations only while a test runs; the report of a
 * failure can only be made once it has failed (and the rc report once the
 * test has met the cluster). This reopens the test for that, and closes it
 * again.
 */
async function afterFailure(task: { result?: { state?: string } }, fn: () => Promise<void>): Promise<void> {
  const result = task.result!
  const state = result.state
  result.state = 'run'
  try {
    await fn()
  } finally {
    result.state = state
  }
}

export const test = base
  .extend('clusterOptions', { scope: 'file' }, {} as ClusterOptions)
  .extend('keep', { scope: 'file' }, keepFromEnv())
  .extend('captures', { scope: 'file' }, [] as CaptureSpec[])
  .extend('reset', { scope: 'file' }, 'never' as Reset)
  .extend('cluster', { scope: 'file' }, clusterFixture)
  .extend('failureReport', { auto: true }, async ({ task, annotate, onTestFailed, keep }, { onCleanup }) => {
    // The console tails join the test's errors: every reporter shows them under the failure.
    onTestFailed(({ task }) => {
      for (const c of live) {
        task.result?.errors?.push({
          name: 'VmConsole',
          message: `console of cluster ${c.name} (${c.id}), for the failure above:\n${consoleReport(c)}`,
          stack: '',
        } as never)
      }
    })
    onCleanup(async () => {
      // rcFailures: 'report': the rc scripts that failed at boot go into the report of the first test that ran on the cluster.
      for (const c of live) {
        if (rcReported.has(c)) continue
        rcReported.add(c)
        const failed = c.vms.filter((vm) => vm.rcFailures.length)
        if (failed.length) await afterFailure(task, () => annotate(failed.map((vm) => formatRcFailures(vm.name, vm.rcFailures)).join('\n'), 'xcluster rc scripts').then(() => {})).catch(() => {})
      }
      // The whole consoles, the picture, the plan and the captures, as attachments.
      if (task.result?.state !== 'fail') return
      fileFailed = true
      if (!live.size) return
      await afterFailure(task, async () => {
        for (const [i, c] of [...live].entries()) {
          const scratch = reportScratch(`${task.file?.filepath}\0${task.id}\0${i}`)
          try {
            await attachClusterReport(c, annotate as Annotate, scratch)
          } finally {
            dropScratch(scratch)
          }
          // The cluster stays up after the run: say how to reach it where the failure is printed, at the end of the run.
          if (keep !== 'never') await annotate(keptMessage(c).trimEnd(), 'xcluster keep').catch(() => {})
        }
      })
    })
    return undefined
  })
  .extend('waitReport', { auto: true }, async ({ annotate }, { onCleanup }) => {
    // A wait that needed more than its budget's nominal time (it passed only because this machine's scale allowed it), and a scale above 1, say so in the test's report.
    const told: Array<Promise<unknown>> = []
    const stop = onVerbEvent((e) => {
      if (overNominal(e) || (e.kind === 'scale' && e.scale > 1)) told.push(annotate(verbLine(e), 'wait').catch(() => {}))
    })
    onCleanup(async () => {
      stop()
      await Promise.all(told)
    })
    return undefined
  })
  .extend('resetEach', { auto: true }, async ({ reset }, { onCleanup }) => {
    // reset: 'each': every test after the first finds the cluster as its snapshot has it (files, processes, routes, clock).
    if (reset !== 'each') return undefined
    if (dirty) for (const c of live) await c.restore()
    dirty = false
    onCleanup(() => void (dirty = live.size > 0 || dirty))
    return undefined
  })
  .extend('capturePerTest', { auto: true }, async ({ captures, task }, { onCleanup }) => {
    // The file's captures run during each test; the failure report brings back those of a failing test.
    if (!captures.length) return undefined
    const cluster = [...live][0]
    if (!cluster) return undefined
    for (const c of captures) if (!cluster.vm(c.vm).captures.has(c.iface)) await cluster.vm(c.vm).startCapture(c.iface, c.filter)
    onCleanup(async () => {
      if (task.result?.state === 'fail') return
      for (const c of captures) if (cluster.vm(c.vm).captures.has(c.iface)) await cluster.vm(c.vm).stopCapture(c.iface)
    })
    return undefined
  })

export const it = test
export const describe = base.describe
