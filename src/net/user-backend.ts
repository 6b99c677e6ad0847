// User-space networking: net 0 is a QEMU user (slirp) network per VM with
// telnet and ssh forwards on 127.0.0.1; every other net is a QEMU socket
// multicast network bound to loopback, but a point-to-point link (`links`),
// which is unicast UDP between its two ends on loopback. Needs no rights.
//
// Private (the default): the cluster's QEMUs run in a network namespace of
// its own (with a user namespace around it when this process is not root),
// held by the relay, so that the loopback they bind their forwards and
// multicast groups to is theirs alone: no other local user can reach a
// forward, bind a dead VM's port, or read or inject a frame on nets 1+. This
// process reaches the forwards through the relay's Unix socket (0600, in the
// 0700 state directory). Shared: the host's own loopback, as xcluster did;
// every local user can join its multicast groups and connect to its forwards
// (the telnet login's challenge still keeps them out of the VMs).
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from '../log.ts'
import { runHost } from '../host/run.ts'
import { ChannelError, HostCommandError, ImpostorError, XcTimeoutError } from '../errors.ts'
import { canUnshareNet, enterNetArgv, privateNetArgv } from '../host/rootless.ts'
import { loopbackPeerHeldBy } from '../host/socket-owner.ts'
import type { Spawner } from '../host/spawner.ts'
import type { StateDir } from '../host/state-dir.ts'
import { HOST_VM_NUMBER, SSH_PORT, TELNET_PORT, ipv4Of, ipv6Of, mcastGroupOf, type ClusterPlan, type NicPlan, type VmPlan } from '../plan/plan.ts'
import { CONNECT_TIMEOUT_MS, execWrapped, nicDevice, type HostResult, type NetworkBackend } from './backend.ts'
import { linkEnd, linkPorts } from '../plan/links.ts'
import { RELAY, relayConnect, startClusterRelay, stopClusterRelay } from './ns-relay.ts'

/** -netdev options of a NIC in user mode. Pure. */
export function userNicArgs(plan: ClusterPlan, vm: VmPlan, nic: NicPlan): string[] {
  if (nic.net === 0) {
    const guest = ipv4Of(0, vm.num)
    const netdev = [
      `user,id=${nic.id}`,
      'net=192.168.0.0/24',
      `host=${ipv4Of(0, HOST_VM_NUMBER)}`,
      `ipv6-net=${plan.prefix}:192.168.0.0/120`,
      `ipv6-host=${ipv6Of(0, HOST_VM_NUMBER, plan.prefix)}`,
      // restrict=on: the guest reaches only the host alias, never the outside.
      'restrict=on',
      `hostfwd=tcp:127.0.0.1:${vm.telnetPort}-${guest}:${TELNET_PORT}`,
      `hostfwd=tcp:127.0.0.1:${vm.sshPort}-${guest}:${SSH_PORT}`,
    ].join(',')
    return ['-netdev', netdev, ...nicDevice(nic.id, nic.mac)]
  }
  const end = linkEnd(plan.links, nic.net, vm.num)
  if (end !== undefined) {
    // A point-to-point link (`links`): unicast UDP between its two ends on loopback. Unlike a multicast net it
    // does not give a VM back its own frames, on which a bridge in the VM loops (see experiments/topology-bridge).
    const [mine, peer] = linkPorts(plan.allocation.mcastPortBase, nic.net, end)
    return ['-netdev', `socket,id=${nic.id},udp=127.0.0.1:${peer},localaddr=127.0.0.1:${mine}`, ...nicDevice(nic.id, nic.mac)]
  }
  const group = mcastGroupOf(plan.allocation, nic.net)
  const port = plan.allocation.mcastPortBase + nic.net
  return ['-netdev', `socket,id=${nic.id},mcast=${group}:${port},localaddr=127.0.0.1`, ...nicDevice(nic.id, nic.mac)]
}

/** Open a TCP connection to 127.0.0.1:`port`, bounded. */
export function connectLoopback(port: number): Promise<Duplex & { localPort?: number }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port })
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new XcTimeoutError(`connect to 127.0.0.1:${port} timed out`))
    }, CONNECT_TIMEOUT_MS)
    sock.once('connect', () => {
      clearTimeout(timer)
      resolve(sock)
    })
    sock.once('error', (e) => {
      clearTimeout(timer)
      reject(new ChannelError(`connect to 127.0.0.1:${port}: ${e.message}`, { cause: e }))
    })
  })
}

export class UserBackend implements NetworkBackend {
  readonly mode = 'user' as const
  /** The cluster's QEMUs run in a network namespace of their own, reached through the relay. */
  readonly private: boolean
  private readonly relaySocket: string

  constructor(
    private readonly plan: ClusterPlan,
    private readonly state: StateDir,
    private readonly spawner: Spawner,
    isolated: boolean,
    private readonly log?: Logger,
  ) {
    // A cluster started by another process (attach) keeps the way it was started.
    this.private = state.state.userNets ? state.state.userNets === 'private' : isolated
    this.relaySocket = state.path('relay.sock')
  }

  /** The relay holding the namespace; it is the cluster's, checked by its start time. */
  private relayPid(): number {
    const relay = this.state.state.relay
    if (!relay) throw new HostCommandError(`cluster ${this.plan.name} has no relay holding its private nets (see ${this.state.path('relay.log')})`)
    return relay.pid
  }

  async prepare(): Promise<void> {
    // Recorded before it is made: with a user namespace when this process may not make a network namespace alone.
    const userNs = !canUnshareNet()
    this.state.update((r) => {
      r.userNets = this.private ? 'private' : 'shared'
      if (this.private) r.rootless = userNs
    })
    if (!this.private) return
    await startClusterRelay(this.state, this.spawner, privateNetArgv([process.execPath, RELAY, this.relaySocket], userNs), this.relaySocket)
    // The namespace's loopback carries the forwards and the multicast nets.
    const argv = this.wrap(['ip', 'link', 'set', 'lo', 'up'])
    const r = await runHost(this.log, argv)
    if (r.exitCode !== 0) throw new HostCommandError(`${argv.join(' ')} failed: ${r.stderr.trim()}`, { argv, exitCode: r.exitCode, stderr: r.stderr })
  }

  async prepareVm(): Promise<void> {}

  async nicArgs(vm: VmPlan, nic: NicPlan): Promise<string[]> {
    return userNicArgs(this.plan, vm, nic)
  }

  wrap(argv: string[]): string[] {
    return this.private ? enterNetArgv(this.relayPid(), argv, this.state.state.rootless === true) : argv
  }

  exec(argv: string[], timeoutMs: number): Promise<HostResult> {
    return execWrapped((a) => this.wrap(a), argv, timeoutMs, this.log)
  }

  async connect(vm: VmPlan, port: number, owner?: number): Promise<Duplex> {
    const hostPort = port === SSH_PORT ? vm.sshPort : vm.telnetPort
    if (this.private) return relayConnect(this.relaySocket, '127.0.0.1', hostPort)
    const sock = await connectLoopback(hostPort)
    // On the host's loopback any local user may have bound the port of a VM whose QEMU has ended: talk only to that VM's QEMU.
    if (owner !== undefined && !(await loopbackPeerHeldBy(owner, (sock as { localPort?: number }).localPort!, hostPort))) {
      sock.destroy()
      throw new ImpostorError(vm.name, `127.0.0.1:${hostPort} is not answered by its QEMU (pid ${owner}): another process holds that port`)
    }
    return sock
  }

  async releaseVm(): Promise<void> {}

  async teardown(): Promise<void> {
    if (this.private) await stopClusterRelay(this.state)
  }
}
