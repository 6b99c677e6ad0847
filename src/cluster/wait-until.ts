// The one bounded retry every wait verb runs on (itself on host/wait.ts's
// waitFor, p-retry): try until the condition holds or the bound runs out,
// keep what the last attempt printed or threw, and tell the verbs' log.
import { GuestCommandError, WaitTimeoutError, XcTimeoutError, XclusterError, type WaitBudget } from '../errors.ts'
import { waitFor } from '../host/wait.ts'
import type { Logger } from '../log.ts'
import { WaitBudgets, type WaitUntilOptions } from './budgets.ts'
import { verbEvent } from './verb-log.ts'

/** One wait, resolved: who waits, for what, how long and how often. */
export interface Wait {
  vm?: string
  what: string
  timeoutMs: number
  budget: WaitBudget
  intervalMs: number
  /** Where its events go when no one listens (the cluster's logger; stderr's without one). */
  log?: Logger
}

/** An attempt: resolves when the condition holds; `false`, or a thrown test failure (an assertion, a command's exit), means not yet. */
export type Attempt<T> = (left: { remainingMs: number }) => T | false | Promise<T | false>

/** What a thrown error says, for the last attempt's report. */
function told(e: unknown): string {
  if (e instanceof GuestCommandError) return [`exit ${e.exitCode}: ${e.command}`, e.stdout.trimEnd(), e.stderr.trimEnd()].filter(Boolean).join('\n')
  return e instanceof Error ? e.message : String(e)
}

/**
 * The harness broke (a VM died, its channel or monitor failed, an ssh host was
 * lost): no use trying again. A command that failed or timed out, and any
 * error of the test's own (an assertion), is an attempt that did not hold yet.
 */
function fatal(e: unknown): boolean {
  return e instanceof XclusterError && !(e instanceof GuestCommandError) && !(e instanceof XcTimeoutError)
}

/** Try `attempt` every `w.intervalMs` until it holds (its value), or throw WaitTimeoutError once `w.timeoutMs` has passed. */
export async function retryUntil<T>(attempt: Attempt<T>, w: Wait): Promise<T> {
  const t0 = Date.now()
  const end = t0 + w.timeoutMs
  let attempts = 0
  let last = ''
  let value: T | undefined
  let cause: unknown
  verbEvent({ kind: 'wait', vm: w.vm, what: w.what, timeoutMs: w.timeoutMs, budget: w.budget }, w.log)
  const held = await waitFor(
    async () => {
      attempts++
      try {
        const r = await attempt({ remainingMs: Math.max(0, end - Date.now()) })
        if (r === false) {
          last = 'the condition returned false'
          return false
        }
        value = r
        return true
      } catch (e) {
        if (fatal(e)) throw e
        last = told(e)
        cause = e
        return false
      }
    },
    { timeoutMs: w.timeoutMs, intervalMs: w.intervalMs },
  )
  const elapsedMs = Date.now() - t0
  if (held) {
    verbEvent({ kind: 'done', vm: w.vm, what: w.what, timeoutMs: w.timeoutMs, budget: w.budget, elapsedMs, attempts }, w.log)
    return value as T
  }
  verbEvent({ kind: 'timeout', vm: w.vm, what: w.what, timeoutMs: w.timeoutMs, budget: w.budget, elapsedMs, attempts }, w.log)
  throw new WaitTimeoutError(w.vm, w.what, w.timeoutMs, elapsedMs, attempts, last, w.budget, { cause })
}

/** A wait's bound and interval from its options, under `budgets` (for VM `num`). */
export function resolveWait(budgets: WaitBudgets, o: WaitUntilOptions, what: string, vm?: { name: string; num: number }, fallback?: string): Wait {
  const interval = o.interval ?? 250
  if (!Number.isFinite(interval) || interval < 1) throw new XclusterError(`Expected a wait's \`interval\` to be at least 1 ms, got ${String(o.interval)}`)
  return { vm: vm?.name, what: o.what ?? what, intervalMs: interval, ...budgets.bound(o, vm?.num, fallback) }
}

const HOST_BUDGETS = new WaitBudgets()

/**
 * Wait until `fn` holds: it is called until it neither throws nor returns
 * `false`, and its value is returned. A throw of the test's own (a failed
 * `expect`, a command's non-zero exit) is an attempt that did not hold; an
 * error of the harness (a VM gone) ends the wait at once. Out of time: a
 * WaitTimeoutError saying what was waited for and what the last attempt threw.
 * This one is for conditions on the host (processes gone, files removed);
 * `cluster.waitUntil` is the same on a cluster's budgets.
 */
export async function waitUntil<T>(fn: () => T | false | Promise<T | false>, o: WaitUntilOptions & { what: string }): Promise<T> {
  return retryUntil(() => fn(), resolveWait(HOST_BUDGETS, o, o.what))
}
