// What a network backend does for a cluster: prepare the host side, give each
// NIC its QEMU options, start QEMU where it must run, reach a VM's ports, and
// remove what it made.
import type { Duplex } from 'node:stream'
import { execa } from 'execa'
import type { NicPlan, VmPlan } from '../plan/plan.ts'

export interface NetworkBackend {
  readonly mode: 'user' | 'bridge'
  /** Host side for the whole cluster (nothing in user mode; netns and bridges in bridge mode). */
  prepare(): Promise<void>
  /** Host side of one VM (its taps in bridge mode). */
  prepareVm(vm: VmPlan): Promise<void>
  /** -netdev/-device options of one NIC. */
  nicArgs(vm: VmPlan, nic: NicPlan): Promise<string[]>
  /** The command that starts QEMU of `vm` (e.g. inside its host's namespace); without a VM, the host side of net 0. */
  wrap(argv: string[], vm?: VmPlan): string[]
  /** A byte stream to `port` (23 telnet, 22 ssh) of VM `vm`. */
  connect(vm: VmPlan, port: number): Promise<Duplex>
  /** Remove one VM's host side (scale-in). */
  releaseVm(vm: VmPlan): Promise<void>
  /** Remove everything made; safe to call twice. */
  teardown(): Promise<void>
}

/** Options of a TCP connect with a bound. */
export const CONNECT_TIMEOUT_MS = 3000

/** Run a program on the host side of `backend`'s networks (inside the namespace in bridge mode); resolves whatever the exit code. */
export async function hostExec(backend: NetworkBackend, argv: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const [file, ...args] = backend.wrap(argv)
  const r = await execa(file, args, { reject: false, timeout: timeoutMs })
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 }
}

/** The virtio NIC device that goes with netdev `id`; romfile= skips iPXE. */
export function nicDevice(id: string, mac: string): string[] {
  return ['-device', `virtio-net-pci,netdev=${id},mac=${mac},romfile=`]
}
