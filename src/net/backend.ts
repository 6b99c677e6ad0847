// What a network backend does for a cluster: prepare the host side, give each
// NIC its QEMU options, start QEMU where it must run, reach a VM's ports, and
// remove what it made.
import type { Duplex } from 'node:stream'
import { execa } from 'execa'
import type { ProcessRecord } from '../host/state-dir.ts'
import type { ProcHandle } from '../host/spawner.ts'
import type { NicPlan, VmPlan } from '../plan/plan.ts'

/** A VM's QEMU on another machine (an ssh host): its files there, and its start. */
export interface RemoteVms {
  /** Where `vm` runs (the host's name). */
  hostOf(vm: VmPlan): string
  /** The accelerator on the VM's host. */
  accelOf(vm: VmPlan): 'kvm' | 'tcg'
  /** The path on the VM's host of the local file `local`, copied there once (by its content's hash). */
  stage(vm: VmPlan, local: string): Promise<string>
  /** QEMU's files there: its console goes to the session's stdout (copied to the local console file). */
  files(vm: VmPlan): { console: string; qmp: string; pidfile: string }
  /**
   * Start `argv` (QEMU) for `vm` there. Its console is appended to
   * `local.console`, its stderr to `local.log`, and its monitor is served on
   * this machine at `local.qmp`. Resolves once it runs there.
   */
  launch(vm: VmPlan, argv: string[], local: { console: string; qmp: string; log: string }): Promise<{ record: ProcessRecord; handle: ProcHandle }>
  /** A handle on `vm`'s QEMU started by another process (a detached cluster: xc start), its console and monitor brought here as by launch. */
  adopt(vm: VmPlan, record: ProcessRecord, local: { console: string; qmp: string }): Promise<ProcHandle>
}

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
  /** Set when QEMU runs elsewhere (ssh hosts); wrap() is then not used for QEMU. */
  readonly remote?: RemoteVms
  /** Runs a program on the host side of net 0 when that is not this machine (ssh hosts). */
  exec?(argv: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; exitCode: number }>
  /** Why the cluster can no longer be used (a lost ssh host), once it cannot. */
  failure?(): Error | undefined
}

/** Options of a TCP connect with a bound. */
export const CONNECT_TIMEOUT_MS = 3000

/** Run a program on the host side of `backend`'s networks (inside the namespace in bridge mode); resolves whatever the exit code. */
export async function hostExec(backend: NetworkBackend, argv: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  if (backend.exec) return backend.exec(argv, timeoutMs)
  const [file, ...args] = backend.wrap(argv)
  const r = await execa(file, args, { reject: false, timeout: timeoutMs })
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 }
}

/** The virtio NIC device that goes with netdev `id`; romfile= skips iPXE. */
export function nicDevice(id: string, mac: string): string[] {
  return ['-device', `virtio-net-pci,netdev=${id},mac=${mac},romfile=`]
}
