// One QEMU process per VM, wherever it runs, known by a handle (ProcHandle):
// whether it is alive, why it is gone, and how to end it. Stopping is the same
// everywhere: a graceful quit over QMP, then a kill.
import { pidHandle, type ProcHandle, type Spawner } from '../host/spawner.ts'
import type { ProcessRecord } from '../host/state-dir.ts'
import { qmp } from './qmp.ts'

export class QemuProcess {
  constructor(
    readonly record: ProcessRecord,
    private readonly qmpPath: string,
    private readonly handle: ProcHandle,
  ) {}

  /** Spawn QEMU on this machine through `spawner`. Resolves once the process exists (not when the VM is up). */
  static async launch(spawner: Spawner, argv: string[], logFile: string, qmpPath: string): Promise<QemuProcess> {
    const { record, exited } = await spawner.spawn(argv, logFile)
    return new QemuProcess(record, qmpPath, pidHandle(record, exited))
  }

  /** A handle on a QEMU of this machine started by another process (xc), known by its record. */
  static adopt(record: ProcessRecord, qmpPath: string): QemuProcess {
    return new QemuProcess(record, qmpPath, pidHandle(record))
  }

  get alive(): boolean {
    return this.handle.alive
  }

  /** Why it is gone, when it is. */
  get exitReason(): string | undefined {
    return this.handle.exitReason ?? (this.alive ? undefined : 'is gone')
  }

  /** Quit over QMP, wait `graceMs`, then kill. Safe to call twice. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.alive) return
    try {
      await qmp(this.qmpPath, [{ execute: 'quit' }], graceMs)
    } catch {
      // the monitor may be gone already; the kill below settles it
    }
    if (await this.handle.waitGone(graceMs)) return
    this.kill()
    // A killed QEMU frees its RAM and translation cache before its files: under load that took over 2 s, and a QEMU started
    // again at once (restart, restore) found the pid file locked and the forward ports taken. Wait until it is gone.
    if (!(await this.handle.waitGone(20_000))) throw new Error(`QEMU ${this.record.pid} did not exit within 20 s of SIGKILL`)
  }

  /** End it at once (on this machine: SIGKILL, only if the pid is still the process started). */
  kill(): void {
    this.handle.kill()
  }
}
