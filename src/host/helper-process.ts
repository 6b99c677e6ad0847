// The harness's own helper processes (namespace relay, cluster keeper): a
// node script that prints READY once it serves.
import { execa } from 'execa'
import { HostCommandError, XcTimeoutError } from '../errors.ts'
import { procStartTime } from './proc.ts'
import type { ProcessRecord } from './state-dir.ts'

export interface HelperOptions {
  /** Its stderr goes here. */
  log: string
  /** Outlive this process (a keeper of an xc start cluster). */
  detached: boolean
  /** Its name in errors: "the namespace relay". */
  what: string
  /** Record the process before waiting for it, so that a kill meanwhile leaves a trace. */
  record: (p: ProcessRecord) => void
}

/**
 * Start `argv` and wait (10 s at most) for its READY line. Resolves with its
 * pid, not the execa promise: an async function returning that thenable would
 * wait for the helper to exit.
 */
export async function startHelper(argv: string[], o: HelperOptions): Promise<ProcessRecord> {
  const [file, ...args] = argv
  const child = execa(file, args, {
    stdin: 'ignore',
    stderr: { file: o.log, append: true },
    reject: false,
    detached: o.detached,
    cleanup: !o.detached,
  })
  const pid = child.pid!
  const rec = { pid, startTime: procStartTime(pid) }
  try {
    o.record(rec)
  } catch (e) {
    // Not recorded (a full disk): not left running either.
    child.kill('SIGKILL')
    throw e
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new XcTimeoutError(`${o.what} did not start within 10 s (see ${o.log})`)), 10_000)
    child.stdout!.once('data', () => {
      clearTimeout(timer)
      resolve()
    })
    void child.then((r) => {
      clearTimeout(timer)
      reject(new HostCommandError(`${o.what} exited: ${r.exitCode ?? r.signal} (see ${o.log})`))
    })
  })
  if (o.detached) {
    child.stdout!.destroy()
    child.unref()
  }
  return rec
}
