// The floor: the same VMs as a cluster, booted as bare QEMU processes with the
// same kernel, the same base initrd and the same machine arguments, but no
// harness (no state dir, no cluster initrd segment, no telnet; net 0 only, a
// restricted slirp net with no forwards). Ready = `xc-phase: ready` on the console.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { VmPlan } from '../src/index.ts'
import { QEMU } from '../src/qemu/accel.ts'
import { qemuArgs } from '../src/qemu/qemu-args.ts'
import { nicDevice } from '../src/net/backend.ts'
import { ConsoleWatcher, parsePhases, type Phase } from './console.ts'

export interface FloorInput {
  vms: VmPlan[]
  accel: 'kvm' | 'tcg'
  kernel: string
  initrd: string
  timeoutMs: number
  /** Kernel parameters that cut boot work; [] for the kernel as packaged (the stock baseline). */
  bootTuning?: string[]
  /** CPU model (default: the harness's). */
  cpu?: string
}

export interface FloorResult {
  /** From the first spawn until the last VM's console shows `xc-phase: ready`. */
  ms: number
  /** Per VM: host ms from the first spawn until its ready line; guest uptimes of its phases. */
  vms: Array<{ name: string; readyMs: number; uptimes: Partial<Record<Phase, number>> }>
}

interface Bare {
  name: string
  child: ChildProcess
  console: string
  log: string
  exit?: string
}

/** Registered by run.ts so that a Ctrl-C also ends bare QEMUs. */
export const liveFloors = new Set<() => Promise<void>>()

/** The argv (without the program) of one bare VM: net 0 only, no forwards. */
export function floorArgs(vm: VmPlan, i: Omit<FloorInput, 'vms' | 'timeoutMs'>, dir: string): string[] {
  const nic = vm.nics[0]
  const files = { console: join(dir, `${vm.name}.console`), qmp: join(dir, `${vm.name}.qmp`), pidfile: join(dir, `${vm.name}.pid`) }
  return qemuArgs({
    vm: { ...vm, nics: [nic] },
    accel: i.accel,
    kernel: i.kernel,
    initrd: i.initrd,
    files,
    nicArgs: [['-netdev', `user,id=${nic.id},restrict=on`, ...nicDevice(nic.id, nic.mac)]],
    clusterTag: 'bench-floor',
    bootTuning: i.bootTuning,
    cpu: i.cpu,
  })
}

async function killAll(bares: Bare[]): Promise<void> {
  await Promise.all(
    bares.map(async (b) => {
      const { child } = b
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
      const gone = new Promise<void>((r) => child.once('exit', () => r()))
      try {
        process.kill(child.pid, 'SIGKILL') // by its own pid, never by name
      } catch {
        return // already gone
      }
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))])
    }),
  )
}

/** Boot `vms` as bare QEMUs all at once and time them to `xc-phase: ready`. Kills them and removes the temp dir. */
export async function bootFloor(input: FloorInput): Promise<FloorResult> {
  const dir = mkdtempSync(join(tmpdir(), 'xc-bench-floor-'))
  const bares: Bare[] = []
  const watcher = new ConsoleWatcher(20)
  const cleanup = async (): Promise<void> => {
    watcher.stop()
    await killAll(bares)
    rmSync(dir, { recursive: true, force: true })
  }
  liveFloors.add(cleanup)
  try {
    const argvs = input.vms.map((vm) => ({ vm, args: floorArgs(vm, input, dir) }))
    const t0 = performance.now()
    for (const { vm, args } of argvs) {
      const log = join(dir, `${vm.name}.qemu.log`)
      const fd = openSync(log, 'a')
      const child = spawn(QEMU, args, { stdio: ['ignore', fd, fd] })
      closeSync(fd)
      const b: Bare = { name: vm.name, child, console: join(dir, `${vm.name}.console`), log }
      child.once('exit', (code, sig) => (b.exit = sig ? `killed by ${sig}` : `exited with code ${code}`))
      child.once('error', (e) => (b.exit = `failed to start: ${e.message}`))
      bares.push(b)
    }
    for (const b of bares) watcher.add(b.console)
    const end = t0 + input.timeoutMs
    while (!watcher.poll('ready')) {
      const dead = bares.find((b) => b.exit)
      if (dead) {
        let log = ''
        try {
          log = readFileSync(dead.log, 'utf8').trim().split('\n').slice(-5).join(' | ')
        } catch {
          // no log
        }
        throw new Error(`floor: bare QEMU of ${dead.name} ${dead.exit}${log ? `: ${log}` : ''}`)
      }
      if (performance.now() > end) {
        const late = bares.filter((b) => watcher.seen.get(b.console)?.ready === undefined).map((b) => b.name)
        throw new Error(`floor: no 'xc-phase: ready' within ${input.timeoutMs} ms from ${late.join(', ')}`)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    const vms = bares.map((b) => ({
      name: b.name,
      readyMs: watcher.seen.get(b.console)!.ready! - t0,
      uptimes: parsePhases(readFileSync(b.console, 'utf8')),
    }))
    return { ms: Math.max(...vms.map((v) => v.readyMs)), vms }
  } finally {
    await cleanup()
    liveFloors.delete(cleanup)
  }
}
