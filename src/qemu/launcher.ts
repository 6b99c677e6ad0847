// Starts one QEMU process per VM (argv array, no shell) through the
// cluster's spawner and stops it: graceful quit over QMP, then SIGKILL by
// its own pid.
import { sameProcess, waitGone } from '../host/proc.ts'
import type { ProcHandle, Spawner } from '../host/spawner.ts'
import type { ProcessRecord } from '../host/state-dir.ts'
import { qmp } from './qmp.ts'

export class QemuProcess {
  private exitInfo?: string

  private constructor(
    readonly record: ProcessRecord,
    private readonly qmpPath: string,
    exited?: Promise<string>,
    /** Set for a QEMU on an ssh host: its pid is that host's. */
    private readonly handle?: ProcHandle,
  ) {
    void exited?.then((why) => (this.exitInfo = why))
  }

  /** Spawn QEMU. Resolves once the process exists (not when the VM is up). */
  static async launch(spawner: Spawner, argv: string[], logFile: string, qmpPath: string): Promise<QemuProcess> {
    const { record, exited } = await spawner.spawn(argv, logFile)
    return new QemuProcess(record, qmpPath, exited)
  }

  /** A handle on a QEMU started by another process (xc), known by its record. */
  static adopt(record: ProcessRecord, qmpPath: string): QemuProcess {
    return new QemuProcess(record, qmpPath)
  }

  /** A QEMU on an ssh host, known by its handle there. */
  static remote(record: ProcessRecord, qmpPath: string, handle: ProcHandle): QemuProcess {
    return new QemuProcess(record, qmpPath, undefined, handle)
  }

  get alive(): boolean {
    if (this.handle) return this.handle.alive
    if (this.exitInfo) return false
    return sameProcess(this.record.pid, this.record.startTime)
  }

  /** Why it is gone, when it is. */
  get exitReason(): string | undefined {
    if (this.handle) return this.handle.exitReason ?? (this.alive ? undefined : 'is gone')
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
    if (await this.waitGone(graceMs)) return
    this.kill()
    // A killed QEMU frees its RAM and translation cache before its files: under load that took over 2 s, and a QEMU started
    // again at once (restart, restore) found the pid file locked and the forward ports taken. Wait until it is gone.
    if (!(await this.waitGone(20_000))) throw new Error(`QEMU ${this.record.pid} did not exit within 20 s of SIGKILL`)
  }

  private waitGone(timeoutMs: number): Promise<boolean> {
    return this.handle ? this.handle.waitGone(timeoutMs) : waitGone(this.record.pid, timeoutMs)
  }

  /** SIGKILL, only if the pid is still the process we started. */
  kill(): void {
    if (this.handle) return this.handle.kill()
    if (sameProcess(this.record.pid, this.record.startTime)) {
      try {
        process.kill(this.record.pid, 'SIGKILL')
      } catch {
        // gone between the check and the kill
      }
    }
  }
}
