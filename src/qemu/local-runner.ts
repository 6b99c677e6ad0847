// QEMU on this machine: started through the cluster's spawner (directly, or
// by a detached cluster's keeper), inside the network's namespace where it
// has one (`wrap`); its files are the local ones.
import type { Spawner } from '../host/spawner.ts'
import type { ProcessRecord } from '../host/state-dir.ts'
import type { VmPlan } from '../plan/plan.ts'
import { QemuProcess } from './launcher.ts'
import type { QemuFiles, QemuRunner } from './runner.ts'

export class LocalRunner implements QemuRunner {
  constructor(
    private readonly spawner: Spawner,
    /** The argv that runs QEMU's argv where the VM's networks are (its namespace). */
    private readonly wrap: (argv: string[], vm: VmPlan) => string[],
    private readonly accel: 'kvm' | 'tcg',
  ) {}

  hostOf(): undefined {
    return undefined
  }

  accelOf(): 'kvm' | 'tcg' {
    return this.accel
  }

  async stage(_vm: VmPlan, local: string): Promise<string> {
    return local
  }

  files(_vm: VmPlan, local: QemuFiles): QemuFiles {
    return local
  }

  launch(vm: VmPlan, argv: string[], local: QemuFiles & { log: string }): Promise<QemuProcess> {
    return QemuProcess.launch(this.spawner, this.wrap(argv, vm), local.log, local.qmp)
  }

  async adopt(_vm: VmPlan, record: ProcessRecord, local: QemuFiles): Promise<QemuProcess> {
    return QemuProcess.adopt(record, local.qmp)
  }

  release(): void {}

  close(): void {}
}
