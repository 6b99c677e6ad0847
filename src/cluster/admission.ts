// How many VMs boot at once. Under TCG every boot is CPU-bound, so a big
// cluster boots in waves that follow the machine's load.
import { availableParallelism } from 'node:os'
import { readFileSync } from 'node:fs'
import { NotStartedError } from '../errors.ts'
import { waitFor } from '../host/wait.ts'
import type { ClusterSpec } from '../plan/spec.ts'

/**
 * Run `fn` over `items` with at most `limit` at once; the first failure stops
 * new starts (they reject with NotStartedError). With `admit`, each start
 * first waits for it (told how many run now).
 */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (t: T) => Promise<R>,
  admit?: (running: () => number) => Promise<void>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length)
  let next = 0
  let running = 0
  let failed = false
  // Admissions go one at a time, and each counts itself as running before the
  // next is asked: otherwise every worker would pass an idle pool at once.
  let admissions: Promise<void> = Promise.resolve()
  const admitted = (): Promise<void> => {
    const mine = admissions.then(async () => {
      if (admit && !failed) await admit(() => running)
      running++
    })
    admissions = mine.catch(() => {})
    return mine
  }
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      await admitted()
      try {
        if (failed) {
          results[i] = { status: 'rejected', reason: new NotStartedError('not started: another VM failed first') }
          continue
        }
        results[i] = { status: 'fulfilled', value: await fn(items[i]) }
      } catch (reason) {
        failed = true
        results[i] = { status: 'rejected', reason }
      } finally {
        running--
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  return results
}

/** How many VMs may boot at once by default: every boot is CPU-bound under TCG. */
export function defaultBootConcurrency(): number {
  return Math.max(2, availableParallelism() * 4)
}

/** Tasks runnable on the host right now (/proc/loadavg, 4th field), less the reader. */
export function runnableTasks(): number | undefined {
  try {
    const m = /\s(\d+)\/\d+\s/.exec(readFileSync('/proc/loadavg', 'utf8'))
    return m ? Math.max(0, Number(m[1]) - 1) : undefined
  } catch {
    return undefined
  }
}

/** The longest one boot waits for the host's load to drop; then it starts anyway, so a busy machine slows a start but never stalls it. */
export const LOAD_WAIT_MS = 60_000

/**
 * The default admission of boots: another boot starts only while the host's
 * runnable tasks (our booting QEMUs and anything else) are at most twice its
 * cores, or when nothing of ours is booting. So a big cluster boots in waves
 * that follow the machine: 2 cores give about 4 boots at a time on an idle
 * host and fewer on a busy one, instead of xcluster's batches of 20 by hand.
 */
export function loadGate(cores = availableParallelism(), pollMs = 50, maxWaitMs = LOAD_WAIT_MS): (running: () => number) => Promise<void> {
  return async (running) => {
    await waitFor(
      () => {
        const r = runnableTasks()
        return running() === 0 || r === undefined || r <= cores * 2
      },
      { timeoutMs: maxWaitMs, intervalMs: pollMs },
    )
  }
}

/**
 * Run `fn` (a boot) over `items` with the cluster's admission: an explicit
 * bootConcurrency as it is, else up to defaultBootConcurrency() at once behind
 * the load gate. Start and scale-out both boot through here.
 */
export function bootEach<T, R>(spec: Pick<ClusterSpec, 'bootConcurrency'>, items: T[], fn: (t: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  return spec.bootConcurrency ? mapLimit(items, spec.bootConcurrency, fn) : mapLimit(items, defaultBootConcurrency(), fn, loadGate())
}
