// Starts one QEMU process per VM (argv array, no shell) and stops it:
// graceful quit over QMP, then SIGKILL by its own pid.
import { execa, type ResultPromise } from 'execa'
import { procStartTime, sameProcess, waitGone } from '../cluster/proc.ts'
import type { ProcessRecord } from '../cluster/state-dir.ts'
import { keeperSpawn } from '../cluster/keeper.ts'
import { qmp } from './qmp.ts'

export interface LaunchOptions {
  argv: string[]
  /** QEMU's own stdout/stderr go here. */
  logFile: string
  /** Survive this process (xc start); otherwise killed when this process exits. */
  detached: boolean
  /** The cluster keeper's socket: it starts QEMU as its own child (detached clusters). */
  keeper?: string
}

export class QemuProcess {
  private exitInfo?: string
  readonly exited: Promise<string>

  private constructor(
    child: ResultPromise | undefined,
    readonly record: ProcessRecord,
    private readonly qmpPath: string,
  ) {
    this.exited = child
      ? child.then((r) => (this.exitInfo = r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`))
      : new Promise<string>(() => {})
  }

  /** Spawn QEMU. Resolves once the process exists (not when the VM is up). */
  static async launch(o: LaunchOptions, qmpPath: string): Promise<QemuProcess> {
    if (o.keeper) return QemuProcess.adopt(await keeperSpawn(o.keeper, o.argv, o.logFile), qmpPath)
    const [file, ...args] = o.argv
    const log = { file: o.logFile, append: true }
    // QEMU makes its monitor socket with the umask it inherits: 0600, not 0755.
    const umask = process.umask(0o177)
    let child: ResultPromise
    try {
      child = execa(file, args, { stdin: 'ignore', stdout: log, stderr: log, reject: false, detached: o.detached, cleanup: !o.detached })
    } finally {
      process.umask(umask)
    }
    if (o.detached) child.unref()
    const pid = child.pid!
    return new QemuProcess(child, { pid, startTime: procStartTime(pid) }, qmpPath)
  }

  /** A handle on a QEMU started by another process (xc), known by its record. */
  static adopt(record: ProcessRecord, qmpPath: string): QemuProcess {
    return new QemuProcess(undefined, record, qmpPath)
  }

  get alive(): boolean {
    if (this.exitInfo) return false
    return sameProcess(this.record.pid, this.record.startTime)
  }

  /** Why it is gone, when it is. */
  get exitReason(): string | undefined {
    return this.exitInfo ?? (this.alive ? undefined : 'is gone')
  }

  /** Quit over QMP, wait `graceMs`, then SIGKILL. Safe to call twice. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.alive) return
    try {
      await qmp(this.qmpPath, [{ execute: 'quit' }], graceMs)
    } catch {
      // the monitor may be gone already; the kill below settles it
    }
    if (await waitGone(this.record.pid, graceMs)) return
    this.kill()
    await waitGone(this.record.pid, 2000)
  }

  /** SIGKILL, only if the pid is still the process we started. */
  kill(): void {
    if (sameProcess(this.record.pid, this.record.startTime)) {
      try {
        process.kill(this.record.pid, 'SIGKILL')
      } catch {
        // gone between the check and the kill
      }
    }
  }
}
