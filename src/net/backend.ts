// What a network backend does for a cluster: prepare the host side, give each
// NIC its QEMU options, run programs and reach a VM's ports on the host side
// of the networks, and remove what it made. Where QEMU itself runs is not its
// business (qemu/runner.ts); wrap() gives the namespace a local QEMU runs in.
import type { Duplex } from 'node:stream'
import type { Logger } from '../log.ts'
import { runHost } from '../host/run.ts'
import type { NicPlan, VmPlan } from '../plan/plan.ts'

/** What a program run on the host side of the networks did. */
export interface HostResult {
  stdout: string
  stderr: string
  exitCode: number
}

export interface NetworkBackend {
  readonly mode: 'user' | 'bridge'
  /** Host side for the whole cluster (a namespace and relay for private user nets; namespace, bridges and relay in bridge mode). */
  prepare(): Promise<void>
  /** Host side of one VM (its taps in bridge mode). */
  prepareVm(vm: VmPlan): Promise<void>
  /** -netdev/-device options of one NIC. */
  nicArgs(vm: VmPlan, nic: NicPlan): Promise<string[]>
  /** The argv that runs `argv` on this machine where the VM's networks are (inside its namespace); without a VM, the host side of net 0. */
  wrap(argv: string[], vm?: VmPlan): string[]
  /** Run a program on the host side of net 0 (inside the namespace in bridge mode; on the first host across ssh hosts); resolves whatever the exit code. */
  exec(argv: string[], timeoutMs: number): Promise<HostResult>
  /**
   * A byte stream to `port` (23 telnet, 22 ssh) of VM `vm`. `owner`: the pid
   * of the VM's QEMU, where what answers could be another process (a port on
   * the host's loopback): anything else answering is an ImpostorError.
   */
  connect(vm: VmPlan, port: number, owner?: number): Promise<Duplex>
  /** Remove one VM's host side (scale-in). */
  releaseVm(vm: VmPlan): Promise<void>
  /** Remove everything made; safe to call twice. */
  teardown(): Promise<void>
}

/** Options of a TCP connect with a bound. */
export const CONNECT_TIMEOUT_MS = 3000

/** Run `argv` on this machine, `wrap`ped into the networks' namespace; resolves whatever the exit code. For backends whose host side is here. */
export async function execWrapped(wrap: (argv: string[]) => string[], argv: string[], timeoutMs: number, log?: Logger): Promise<HostResult> {
  const r = await runHost(log, wrap(argv), { timeout: timeoutMs })
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 }
}

/** The virtio NIC device that goes with netdev `id`; romfile= skips iPXE. */
export function nicDevice(id: string, mac: string): string[] {
  return ['-device', `virtio-net-pci,netdev=${id},mac=${mac},romfile=`]
}
