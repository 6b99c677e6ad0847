// User-space networking: net 0 is a QEMU user (slirp) network per VM with
// forwards on 127.0.0.1; every other net is a QEMU socket multicast network
// bound to loopback. Needs no rights.
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import { ChannelError, XcTimeoutError } from '../errors.ts'
import { HOST_VM_NUMBER, SSH_PORT, TELNET_PORT, ipv4Of, ipv6Of, mcastGroupOf, type ClusterPlan, type NicPlan, type VmPlan } from '../plan/plan.ts'
import { nicDevice } from './backend.ts'
import { CONNECT_TIMEOUT_MS, type NetworkBackend } from './backend.ts'


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
  const group = mcastGroupOf(plan.allocation, nic.net)
  const port = plan.allocation.mcastPortBase + nic.net
  return ['-netdev', `socket,id=${nic.id},mcast=${group}:${port},localaddr=127.0.0.1`, ...nicDevice(nic.id, nic.mac)]
}

/** Open a TCP connection to 127.0.0.1:`port`, bounded. */
export function connectLoopback(port: number): Promise<Duplex> {
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
  constructor(private readonly plan: ClusterPlan) {}
  async prepare(): Promise<void> {}
  async prepareVm(): Promise<void> {}
  async nicArgs(vm: VmPlan, nic: NicPlan): Promise<string[]> {
    return userNicArgs(this.plan, vm, nic)
  }
  wrap(argv: string[]): string[] {
    return argv
  }
  connect(vm: VmPlan, port: number): Promise<Duplex> {
    return connectLoopback(port === SSH_PORT ? vm.sshPort : vm.telnetPort)
  }
  async releaseVm(): Promise<void> {}
  async teardown(): Promise<void> {}
}
