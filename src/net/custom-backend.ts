// A user's net-setup hook on top of a base backend (xcluster's `__net_setup`).
// For each NIC the hook may return QEMU options; when it returns nothing the
// base backend sets that NIC up.
import type { Duplex } from 'node:stream'
import { execa } from 'execa'
import { HostCommandError } from '../errors.ts'
import type { StateDir } from '../host/state-dir.ts'
import type { ClusterPlan, NicPlan, VmPlan } from '../plan/plan.ts'
import type { NetworkBackend } from './backend.ts'
import type { NetSetup, NetSetupContext } from '../plan/net-setup.ts'

/** Split a script's output into QEMU arguments (whitespace-separated, as xcluster's shell did). */
export function splitOptions(text: string): string[] {
  return text.split(/\s+/).filter(Boolean)
}

export class CustomBackend implements NetworkBackend {
  constructor(
    private readonly base: NetworkBackend,
    private readonly plan: ClusterPlan,
    private readonly state: StateDir,
    private readonly hook: NetSetup,
  ) {}

  get mode(): 'user' | 'bridge' {
    return this.base.mode
  }

  prepare(): Promise<void> {
    return this.base.prepare()
  }
  prepareVm(vm: VmPlan): Promise<void> {
    return this.base.prepareVm(vm)
  }

  context(vm: VmPlan, nic: NicPlan): NetSetupContext {
    const a = this.plan.allocation
    return {
      vm, nic, mac: nic.mac, nicId: nic.id,
      clusterId: this.plan.id, stateDir: this.state.dir,
      telnetPort: vm.telnetPort, sshPort: vm.sshPort, telnetBase: a.telnetBase, sshBase: a.sshBase,
    }
  }

  async nicArgs(vm: VmPlan, nic: NicPlan): Promise<string[]> {
    const ctx = this.context(vm, nic)
    let args: string[] | undefined
    if (typeof this.hook === 'function') {
      args = (await this.hook(vm.num, nic.net, ctx)) ?? undefined
    } else {
      const argv = [this.hook, String(vm.num), String(nic.net)]
      const r = await execa(argv[0], argv.slice(1), {
        reject: false,
        timeout: 30_000,
        env: {
          XCLUSTER_TELNET_BASE: String(ctx.telnetBase),
          XCLUSTER_SSH_BASE: String(ctx.sshBase),
          XCLUSTER_ID: ctx.clusterId,
          XCLUSTER_STATE_DIR: ctx.stateDir,
          XCLUSTER_MAC: ctx.mac,
          XCLUSTER_NIC_ID: ctx.nicId,
          __mtu: process.env.__mtu ?? '1500',
          __kvm: process.env.__kvm ?? 'qemu-system-x86_64',
        },
      })
      if (r.exitCode !== 0) {
        throw new HostCommandError(
          `net-setup script ${this.hook} failed for ${vm.name} net ${nic.net} (exit ${r.exitCode ?? r.signal}): ${r.stderr.trim() || 'no stderr'}`,
          { argv, exitCode: r.exitCode, stderr: r.stderr },
        )
      }
      args = splitOptions(r.stdout)
    }
    if (!args || args.length === 0) return this.base.nicArgs(vm, nic)
    return args
  }

  wrap(argv: string[], vm?: VmPlan): string[] {
    return this.base.wrap(argv, vm)
  }

  /** The base reaches the VM: a hook that sets up net 0 in user mode keeps the harness's host ports (telnetPort, sshPort). */
  connect(vm: VmPlan, port: number, owner?: number): Promise<Duplex> {
    return this.base.connect(vm, port, owner)
  }

  releaseVm(vm: VmPlan): Promise<void> {
    return this.base.releaseVm(vm)
  }
  teardown(): Promise<void> {
    return this.base.teardown()
  }
}
