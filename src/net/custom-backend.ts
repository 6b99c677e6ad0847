// A user's net-setup hook on top of a base backend (xcluster's `__net_setup`).
// For each NIC the hook may return QEMU options; when it returns nothing the
// base backend sets that NIC up. As in xcluster, where the whole cluster ran
// inside its namespace, a script runs on the host side of the networks
// (inside the cluster's namespace in bridge mode), one call at a time; the
// daemons it starts go through the harness (XCLUSTER_SPAWN), which records
// them before they start and ends them at stop.
import type { Duplex } from 'node:stream'
import type { Logger } from '../log.ts'
import { runHost } from '../host/run.ts'
import { HostCommandError } from '../errors.ts'
import { startDaemon } from '../host/daemons.ts'
import type { Spawner } from '../host/spawner.ts'
import type { StateDir } from '../host/state-dir.ts'
import type { ClusterPlan, NicPlan, VmPlan } from '../plan/plan.ts'
import type { HostResult, NetworkBackend } from './backend.ts'
import type { NetSetup, NetSetupContext } from '../plan/net-setup.ts'
import { serveSpawns, spawnProgram } from './spawn-service.ts'

/** Split a script's output into QEMU arguments (whitespace-separated, as xcluster's shell did). */
export function splitOptions(text: string): string[] {
  return text.split(/\s+/).filter(Boolean)
}

/** Bound on one call of a net-setup script (the first may start a switch's daemons). */
const SCRIPT_TIMEOUT_MS = 60_000

export class CustomBackend implements NetworkBackend {
  /** The hook's options per NIC (`vm/net`), asked for in prepareVm; absent: the NIC is the base's. */
  private readonly given = new Map<string, string[]>()
  /** One hook call at a time, as xcluster called its script. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly base: NetworkBackend,
    private readonly plan: ClusterPlan,
    private readonly state: StateDir,
    private readonly hook: NetSetup,
    private readonly spawner: Spawner,
    private readonly log?: Logger,
  ) {}

  get mode(): 'user' | 'bridge' {
    return this.base.mode
  }

  prepare(): Promise<void> {
    return this.base.prepare()
  }

  /** Start daemon `name` on the host side of the networks, recorded in the ledger (see daemons.ts); its pid. */
  async spawn(name: string, argv: string[]): Promise<number> {
    return (await startDaemon(this.state, this.spawner, name, this.base.wrap(argv))).pid!
  }

  context(vm: VmPlan, nic: NicPlan): NetSetupContext {
    const a = this.plan.allocation
    return {
      vm, nic, mac: nic.mac, nicId: nic.id,
      clusterId: this.plan.id, stateDir: this.state.dir, netns: this.state.state.netns,
      telnetPort: vm.telnetPort, sshPort: vm.sshPort, telnetBase: a.telnetBase, sshBase: a.sshBase,
      spawn: (name, argv) => this.spawn(name, argv),
    }
  }

  /** The hook is asked for every NIC first; the base makes the host side (taps) only of the NICs the hook leaves to it. */
  async prepareVm(vm: VmPlan): Promise<void> {
    for (const nic of vm.nics) {
      const key = `${vm.num}/${nic.net}`
      this.given.delete(key)
      const args = await this.serial(() => this.ask(vm, nic))
      if (args?.length) this.given.set(key, args)
    }
    await this.base.prepareVm(this.baseOnly(vm))
  }

  /** `vm` with only the NICs the base sets up. */
  private baseOnly(vm: VmPlan): VmPlan {
    return { ...vm, nics: vm.nics.filter((n) => !this.given.has(`${vm.num}/${n.net}`)) }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return run
  }

  private async ask(vm: VmPlan, nic: NicPlan): Promise<string[] | undefined> {
    const ctx = this.context(vm, nic)
    if (typeof this.hook === 'function') return (await this.hook(vm.num, nic.net, ctx)) ?? undefined
    const socket = this.state.path('spawn.sock')
    const service = await serveSpawns(socket, (name, argv) => this.spawn(name, argv))
    try {
      const argv = this.base.wrap([this.hook, String(vm.num), String(nic.net)])
      const r = await runHost(this.log, argv, {
        timeout: SCRIPT_TIMEOUT_MS,
        env: {
          XCLUSTER_TELNET_BASE: String(ctx.telnetBase),
          XCLUSTER_SSH_BASE: String(ctx.sshBase),
          XCLUSTER_ID: ctx.clusterId,
          XCLUSTER_NAME: this.plan.name,
          XCLUSTER_STATE_DIR: ctx.stateDir,
          XCLUSTER_NETNS: ctx.netns ?? '',
          XCLUSTER_NETWORK: this.base.mode,
          XCLUSTER_PREFIX: this.plan.prefix,
          XCLUSTER_MAC: ctx.mac,
          XCLUSTER_NIC_ID: ctx.nicId,
          XCLUSTER_SPAWN: spawnProgram(this.state.dir, socket),
          __mtu: process.env.__mtu ?? '1500',
          __kvm: process.env.__kvm ?? 'qemu-system-x86_64',
        },
      })
      if (r.exitCode !== 0) {
        const how = r.timedOut ? `timed out after ${SCRIPT_TIMEOUT_MS / 1000} s` : `exit ${r.exitCode ?? r.signal}`
        throw new HostCommandError(
          `net-setup script ${this.hook} failed for ${vm.name} net ${nic.net} (${how}): ${r.stderr.trim() || 'no stderr'}`,
          { argv, exitCode: r.exitCode, stderr: r.stderr },
        )
      }
      return splitOptions(r.stdout)
    } finally {
      await service.close()
    }
  }

  async nicArgs(vm: VmPlan, nic: NicPlan): Promise<string[]> {
    return this.given.get(`${vm.num}/${nic.net}`) ?? this.base.nicArgs(vm, nic)
  }

  wrap(argv: string[], vm?: VmPlan): string[] {
    return this.base.wrap(argv, vm)
  }

  exec(argv: string[], timeoutMs: number): Promise<HostResult> {
    return this.base.exec(argv, timeoutMs)
  }

  /** The base reaches the VM: a hook that sets up net 0 in user mode keeps the harness's host ports (telnetPort, sshPort). */
  connect(vm: VmPlan, port: number, owner?: number): Promise<Duplex> {
    return this.base.connect(vm, port, owner)
  }

  /** The base's host side of the VM; what the hook made stays until the cluster's namespace goes (a later boot of the VM asks the hook again). */
  releaseVm(vm: VmPlan): Promise<void> {
    return this.base.releaseVm(this.baseOnly(vm))
  }
  teardown(): Promise<void> {
    return this.base.teardown()
  }
}
