// Bookkeeping of one benchmark run: the clusters it has running, the parts that
// failed, and stopping everything it started (at the end and on Ctrl-C).
import { performance } from 'node:perf_hooks'
import { xclusterHome, type RunningCluster } from '../src/index.ts'
import { removeClusterResources } from '../src/host/cleanup.ts'
import { listStates } from '../src/host/state-dir.ts'
import { log } from './config.ts'
import { liveFloors } from './floor.ts'

/** The clusters the benchmark has started and not yet stopped. */
export const live = new Set<RunningCluster>()
/** One line per failed part, `<part>: <message>`. */
export const errors: string[] = []

/** Stop `c` and forget it; resolves to the time stop() took, ms. */
export async function stopCluster(c: RunningCluster): Promise<number> {
  const t = performance.now()
  try {
    await c.stop()
  } finally {
    live.delete(c)
  }
  return performance.now() - t
}

/** Stop what is running; with `inFlight`, also remove a cluster whose start was cut short (by its recorded state). */
export async function stopEverything(inFlight = false): Promise<void> {
  await Promise.allSettled([...live].map((c) => stopCluster(c)))
  await Promise.allSettled([...liveFloors].map((f) => f()))
  if (inFlight) {
    const home = xclusterHome()
    const ours = listStates(home).filter((s) => s.state.owner.pid === process.pid)
    await Promise.allSettled(ours.map((s) => removeClusterResources(home, s)))
  }
}

/** On SIGINT or SIGTERM, stop what the benchmark started (including a cluster still starting) and exit 130. */
export function stopOnSignals(): void {
  let interrupted = false
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) return
      interrupted = true
      log(`${sig}: stopping what the benchmark started ...`)
      void stopEverything(true).finally(() => process.exit(130))
    })
  }
}

/** Run one part; a failure is recorded and the benchmark goes on. */
export async function part<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn()
  } catch (e) {
    const msg = (e as Error).message ?? String(e)
    errors.push(`${name}: ${msg}`)
    log(`FAILED ${name}: ${msg.split('\n')[0]}`)
    return undefined
  }
}
