// The one bounded wait every poll of the harness is built on (p-retry with
// a constant interval): a condition checked until it holds or time runs out.
import pRetry from 'p-retry'

class NotYet extends Error {}

export interface WaitOptions {
  timeoutMs: number
  /** Time between checks (default 50 ms). */
  intervalMs?: number
  /** Checked before each try: true ends the wait at once (it resolves false). */
  abort?: () => boolean
}

/**
 * Resolves true once `check()` holds, false when `timeoutMs` has passed or
 * `abort()` said to stop. An error thrown by `check` rejects at once.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, o: WaitOptions): Promise<boolean> {
  const interval = o.intervalMs ?? 50
  const end = Date.now() + o.timeoutMs
  let held = false
  try {
    await pRetry(
      async () => {
        if (o.abort?.()) return
        if (await check()) {
          held = true
          return
        }
        if (Date.now() < end) throw new NotYet()
      },
      {
        retries: Math.ceil(o.timeoutMs / interval) + 1,
        minTimeout: interval,
        maxTimeout: interval,
        factor: 1,
        randomize: false,
        shouldRetry: ({ error }) => error instanceof NotYet,
      },
    )
  } catch (e) {
    if (!(e instanceof NotYet)) throw e
  }
  return held
}
