// What this process owns: its running clusters (those not handed to a
// keeper by `xc start`). When it is told to end by SIGINT, SIGTERM or
// SIGHUP, it stops them first, within a bound, and then ends as that signal
// would have ended it. Its QEMUs and relays die with it in any case
// (PR_SET_PDEATHSIG, see ../host/spawner.ts), and its reaper removes the
// rest when it is killed outright (../host/reaper.ts, started by startCluster).
/** Something that can be stopped: a running cluster. */
export interface Stoppable {
  stop(): Promise<void>
}

/** How long the signal handlers wait for the clusters to stop. */
export const SIGNAL_STOP_MS = 15_000
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

const owned = new Set<Stoppable>()
let installed = false
let stopping: Promise<void> | undefined

/** Record that this process owns `cluster`, until disown(). */
export function own(cluster: Stoppable): void {
  owned.add(cluster)
  if (!installed) {
    installed = true
    for (const sig of SIGNALS) process.on(sig, onSignal)
  }
}

/** `cluster` is stopped (or handed over): this process no longer owns it. */
export function disown(cluster: Stoppable): void {
  owned.delete(cluster)
}

/** Stop every cluster this process owns, waiting at most `boundMs`. */
export function stopOwned(boundMs = SIGNAL_STOP_MS): Promise<void> {
  stopping ??= (async () => {
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, boundMs)))
    await Promise.race([Promise.allSettled([...owned].map((c) => c.stop())), bound])
    clearTimeout(timer)
  })()
  return stopping
}

function onSignal(sig: NodeJS.Signals): void {
  void stopOwned().finally(() => {
    for (const s of SIGNALS) process.removeListener(s, onSignal)
    // End as the signal would have: its default action, now that no handler of ours is left.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig)
    else process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15))
  })
}
