// Bridge networking: the cluster's own network namespace, one Linux bridge
// per net, one tap per (VM, net), QEMU started inside the namespace. The test
// process stays in the main namespace and reaches the VMs through a relay on
// a Unix socket in the state directory. As root the namespaces are named
// (ip netns); rootless they are in a user namespace of the cluster's own,
// held by the relay and entered by its pid (nsenter).
import type { Duplex } from 'node:stream'
import type { Logger } from '../log.ts'
import { runHost } from '../host/run.ts'
import { HostCommandError } from '../errors.ts'
import { nsenterArgv, unshareArgv } from '../host/rootless.ts'
import type { StateDir } from '../host/state-dir.ts'
import { sameProcess } from '../host/proc.ts'
import type { Spawner } from '../host/spawner.ts'
import { HOST_VM_NUMBER, ipv4Of, ipv6Of, type ClusterPlan, type NicPlan, type VmPlan } from '../plan/plan.ts'
import { execWrapped, nicDevice, type HostResult, type NetworkBackend } from './backend.ts'
import { RELAY, relayConnect, startClusterRelay, startRelayProcess, stopClusterRelay } from './ns-relay.ts'

/** The namespace of cluster `id`. */
export function netnsName(id: string): string {
  return `xc-${id}`
}
/** Bridge of net k inside the namespace (xcluster's name). */
export function bridgeName(net: number): string {
  return `xcbr${net}`
}
/** Tap of VM v on net k inside the namespace. */
export function tapName(vm: number, net: number): string {
  return `t${vm}n${net}`
}

/** The underlay address of simulated host number `i` (0-based). */
export function underlayAddress(i: number): string {
  return `192.168.255.${i + 1}`
}
/** The VXLAN VNI of net k. */
export function vniOf(net: number): number {
  return 100 + net
}
/** VXLAN adds 50 bytes: the underlay carries full 1500-byte frames of the nets. */
export const UNDERLAY_MTU = 1550

/**
 * `ip -batch` lines of simulated host number `i` of a cluster that spans
 * hosts: its underlay address and, per net, a VXLAN device on that net's
 * bridge (the bridges come from bridgeBatch). Pure.
 */
export function vxlanBatch(plan: ClusterPlan, i: number): string[] {
  const lines = [`addr add ${underlayAddress(i)}/24 dev underlay`, 'link set underlay up']
  for (const net of plan.nets) {
    lines.push(
      `link add vx${net} type vxlan id ${vniOf(net)} dstport 4789 local ${underlayAddress(i)} dev underlay`,
      `link set vx${net} mtu 1500 master ${bridgeName(net)} up`,
    )
  }
  return lines
}

/** `bridge -batch` lines: flood each net's unknown traffic to every other host (head-end replication). Pure. */
export function floodBatch(plan: ClusterPlan, i: number): string[] {
  const peers = (plan.hosts ?? []).map((_, j) => j).filter((j) => j !== i)
  return plan.nets.flatMap((net) => peers.map((j) => `fdb append 00:00:00:00:00:00 dev vx${net} dst ${underlayAddress(j)}`))
}

/** `ip -batch` lines that make the namespace's bridges and the host address on net 0. Pure. */
export function bridgeBatch(plan: ClusterPlan, hostSide = true): string[] {
  const lines = ['link set lo up']
  for (const net of plan.nets) {
    const br = bridgeName(net)
    lines.push(`link add ${br} type bridge forward_delay 0 stp_state 0`)
    if (net === 0 && hostSide) {
      lines.push(`addr add ${ipv4Of(0, HOST_VM_NUMBER)}/24 dev ${br}`)
      lines.push(`addr add ${ipv6Of(0, HOST_VM_NUMBER, plan.prefix)}/120 dev ${br} nodad`)
    }
    lines.push(`link set ${br} up`)
  }
  return lines
}

/** `ip -batch` lines that make and attach the taps of `vm`. Pure. */
export function tapBatch(vm: VmPlan): string[] {
  return vm.nics.flatMap((nic) => [
    `tuntap add dev ${tapName(vm.num, nic.net)} mode tap`,
    `link set ${tapName(vm.num, nic.net)} master ${bridgeName(nic.net)} up`,
  ])
}

export class BridgeBackend implements NetworkBackend {
  readonly mode = 'bridge' as const
  readonly netns: string
  readonly relaySocket: string
  /** In a user namespace of the cluster's own (no root): namespaces are held by processes and entered by their pid, not named in /run/netns. */
  readonly rootless: boolean

  constructor(
    private readonly plan: ClusterPlan,
    private readonly state: StateDir,
    private readonly spawner: Spawner,
    rootless = false,
    private readonly log?: Logger,
  ) {
    this.netns = netnsName(plan.id)
    this.relaySocket = state.path('relay.sock')
    this.rootless = rootless || state.state.rootless === true
  }

  /** The process that holds namespace `ns` (rootless): the relay for the cluster's own, a holder for each other. */
  private holderOf(ns: string): number {
    const s = this.state.state
    const holder = ns === this.netns ? s.relay : s.nsHolders?.find((h) => h.ns === ns)
    if (!holder || !sameProcess(holder.pid, holder.startTime)) {
      throw new HostCommandError(`the process holding namespace ${ns} of cluster ${s.name} is gone (rootless bridge mode; see ${this.state.path('relay.log')})`, { argv: [] })
    }
    return holder.pid
  }

  /** `argv` run inside namespace `ns`. */
  private inNs(ns: string, argv: string[]): string[] {
    return this.rootless ? nsenterArgv(this.holderOf(ns), argv) : ['ip', 'netns', 'exec', ns, ...argv]
  }

  /** How `ip link ... netns X` names namespace `ns`: its name, or rootless the pid of its holder. */
  private nsRef(ns: string): string {
    return this.rootless ? String(this.holderOf(ns)) : ns
  }

  private async ipBatch(lines: string[], ns = this.netns, tool = 'ip'): Promise<void> {
    const argv = this.rootless ? this.inNs(ns, [tool, '-batch', '-']) : [tool, '-n', ns, '-batch', '-']
    const r = await runHost(this.log, argv, { input: lines.join('\n') + '\n' })
    if (r.exitCode !== 0) {
      throw new HostCommandError(`${argv.join(' ')} failed: ${r.stderr.trim()}\n${lines.join('\n')}`, { argv, exitCode: r.exitCode, stderr: r.stderr })
    }
  }

  /** The namespace of simulated host number i (host 0 is the cluster's own namespace). */
  private hostNetns(i: number): string {
    return i === 0 ? this.netns : `${this.netns}-${this.plan.hosts![i]}`
  }

  /** The namespace a VM runs in. */
  private netnsOf(vm?: VmPlan): string {
    if (!vm?.host || !this.plan.hosts) return this.netns
    return this.hostNetns(this.plan.hosts.indexOf(vm.host))
  }

  async prepare(): Promise<void> {
    const hosts = this.plan.hosts ?? []
    const extra = hosts.length > 1 ? [...hosts.slice(1).map((_, j) => this.hostNetns(j + 1)), `${this.netns}-ul`] : []
    if (this.rootless) {
      // The relay is the first process of the cluster's user and network
      // namespace and holds it; each other namespace gets a relay of its own.
      this.state.update((r) => (r.rootless = true))
      await this.startRelay(unshareArgv([process.execPath, RELAY, this.relaySocket]))
      for (const ns of extra) await this.startHolder(ns)
    } else {
      // Recorded before they are made, so that a kill right after leaves a trace.
      this.state.update((r) => {
        r.netns = this.netns
        if (extra.length) r.netnsExtra = extra
      })
      for (const ns of [this.netns, ...extra]) {
        const add = await runHost(this.log, ['ip', 'netns', 'add', ns])
        if (add.exitCode !== 0) {
          throw new HostCommandError(`ip netns add ${ns} failed: ${add.stderr.trim()}`, { argv: ['ip', 'netns', 'add', ns], exitCode: add.exitCode, stderr: add.stderr })
        }
      }
    }
    await this.ipBatch(bridgeBatch(this.plan))
    if (hosts.length > 1) await this.prepareHosts(hosts, `${this.netns}-ul`)
    if (!this.rootless) await this.startRelay(['ip', 'netns', 'exec', this.netns, process.execPath, RELAY, this.relaySocket])
  }

  /**
   * Simulated hosts: an underlay namespace with a bridge, one veth into it per
   * host (MTU 1550 for the VXLAN overhead), and in each host, per net, a VXLAN
   * device on the net's bridge flooding to every other host.
   */
  private async prepareHosts(hosts: string[], underlay: string): Promise<void> {
    await this.ipBatch([`link add ul type bridge`, `link set ul mtu ${UNDERLAY_MTU} up`], underlay)
    for (const [i] of hosts.entries()) {
      const ns = this.hostNetns(i)
      await this.ipBatch([
        `link add u${i} mtu ${UNDERLAY_MTU} type veth peer name underlay mtu ${UNDERLAY_MTU} netns ${this.nsRef(ns)}`,
        `link set u${i} master ul up`,
      ], underlay)
      if (i > 0) await this.ipBatch(bridgeBatch(this.plan, false), ns)
      await this.ipBatch(vxlanBatch(this.plan, i), ns)
      await this.ipBatch(floodBatch(this.plan, i), ns, 'bridge')
    }
  }

  private async startRelay(argv: string[]): Promise<void> {
    await startClusterRelay(this.state, this.spawner, argv, this.relaySocket)
  }

  /** Rootless: a new network namespace in the cluster's user namespace, held by a relay of its own. */
  private async startHolder(ns: string): Promise<void> {
    const socket = this.state.path(`${ns}.sock`)
    const argv = nsenterArgv(this.holderOf(this.netns), ['unshare', '--net', '--', process.execPath, RELAY, socket], false)
    const record = await startRelayProcess(this.spawner, argv, socket, this.state.path('relay.log'))
    this.state.update((r) => (r.nsHolders = [...(r.nsHolders ?? []), { ...record, ns }]))
  }

  async prepareVm(vm: VmPlan): Promise<void> {
    await this.ipBatch(tapBatch(vm), this.netnsOf(vm))
  }

  async nicArgs(vm: VmPlan, nic: NicPlan): Promise<string[]> {
    return ['-netdev', `tap,id=${nic.id},ifname=${tapName(vm.num, nic.net)},script=no,downscript=no`, ...nicDevice(nic.id, nic.mac)]
  }

  wrap(argv: string[], vm?: VmPlan): string[] {
    return this.inNs(this.netnsOf(vm), argv)
  }

  exec(argv: string[], timeoutMs: number): Promise<HostResult> {
    return execWrapped((a) => this.wrap(a), argv, timeoutMs, this.log)
  }

  connect(vm: VmPlan, port: number): Promise<Duplex> {
    return relayConnect(this.relaySocket, ipv4Of(0, vm.num), port)
  }

  async releaseVm(vm: VmPlan): Promise<void> {
    await this.ipBatch(vm.nics.map((nic) => `link delete ${tapName(vm.num, nic.net)}`), this.netnsOf(vm)).catch(() => {})
  }

  /**
   * Stop the relay gracefully. The namespaces (and with them their bridges,
   * taps, VXLAN devices and veths) are removed by the cluster's cleanup, by
   * the names recorded in its state directory; rootless, they go with the
   * last process in them (the relays and holders, QEMU), which cleanup ends
   * by their recorded pids.
   */
  async teardown(): Promise<void> {
    await stopClusterRelay(this.state)
  }
}
