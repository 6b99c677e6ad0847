// Where a cluster's QEMUs run, chosen once per cluster: on this machine
// (directly, or through a detached cluster's keeper: the spawner decides),
// or on its ssh hosts. Staging a VM's files, launching QEMU, adopting one
// that another process started, and where its console and monitor are: all
// behind this one seam, so that a VM's boot and handle never ask which.
import type { ProcessRecord } from '../host/state-dir.ts'
import type { VmPlan } from '../plan/plan.ts'
import type { QemuProcess } from './launcher.ts'

/** A VM's console, monitor and pid file. */
export interface QemuFiles {
  console: string
  qmp: string
  pidfile: string
}

export interface QemuRunner {
  /** The ssh host `vm` runs on (recorded with the VM); undefined: this machine. */
  hostOf(vm: VmPlan): string | undefined
  /** The accelerator where `vm` runs. */
  accelOf(vm: VmPlan): 'kvm' | 'tcg'
  /** The path, where `vm` runs, of the local file `local` (copied there once, by its content's hash, where that is not this machine). */
  stage(vm: VmPlan, local: string): Promise<string>
  /** QEMU's own files of `vm` where it runs, for its files `local` here. */
  files(vm: VmPlan, local: QemuFiles): QemuFiles
  /** Start `argv` (QEMU) for `vm`: its console ends up in `local.console`, its stderr in `local.log`, its monitor at `local.qmp`. Resolves once it runs. */
  launch(vm: VmPlan, argv: string[], local: QemuFiles & { log: string }): Promise<QemuProcess>
  /** A handle on `vm`'s QEMU that another process started (xc start), known by its record; its console and monitor brought to `local` as by launch. */
  adopt(vm: VmPlan, record: ProcessRecord, local: QemuFiles): Promise<QemuProcess>
  /** Let go of what this process holds for `vm` (the monitor it serves there), its QEMU gone (scale-in, restart). */
  release(vm: VmPlan): void
  /** Let go of what this process holds for the VMs (the monitors it serves); the QEMUs are stopped on their own. */
  close(): void
}
