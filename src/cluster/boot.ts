// Boot of one VM: its host side, its QEMU, and the wait until its control
// shell answers. BootContext is everything a cluster needs for that; start,
// restart, scale-out and attach all make it with prepareBoot.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import pRetry, { AbortError } from 'p-retry'
import { DiskWriteError, VmBootError, XcTimeoutError } from '../errors.ts'
import type { ShellChannel } from '../control/shell-channel.ts'
import { noSpaceLeft } from '../host/durable.ts'
import { spawnerFor, type Spawner } from '../host/spawner.ts'
import type { StateDir } from '../host/state-dir.ts'
import { waitFor } from '../host/wait.ts'
import type { ImageManifest } from '../image/build-image.ts'
import type { SshHosts } from '../host/ssh-cluster.ts'
import { stderrLogger, type Logger } from '../log.ts'
import type { NetworkBackend } from '../net/backend.ts'
import { createBackend } from '../net/create-backend.ts'
import type { ClusterPlan, VmPlan } from '../plan/plan.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import { QEMU, resolveAccel } from '../qemu/accel.ts'
import { formatRcFailures, parseRcReport } from '../pure/rc-failure.ts'
import { LocalRunner } from '../qemu/local-runner.ts'
import { qemuArgs } from '../qemu/qemu-args.ts'
import type { QemuRunner } from '../qemu/runner.ts'
import { SshRunner } from '../qemu/ssh-runner.ts'
import { defaultBootConcurrency } from './admission.ts'
import { waitForConsoleMarker } from './console-marker.ts'
import { packageLayers } from './packages.ts'
import { RemoteHosts } from './remote-hosts.ts'
import { consoleTail, RunningVm } from './running-vm.ts'
import type { PackageLayer } from '../packages/layer.ts'
import { loadState, resumeRestored } from './snapshot/migrate.ts'
import { rekey } from './snapshot/rekey.ts'
import type { ClusterSnapshot } from './snapshot/session.ts'
import { ramFile, stateFile, type Snapshot } from './snapshot/store.ts'
import { imageFor } from './kernel.ts'

/** Bound on a restored VM's answer: it loads its state and answers in about a second; beyond this the snapshot is taken for broken. */
export const RESTORE_TIMEOUT_MS = 30_000

/** Everything a cluster needs to boot a VM; shared by start, restart, scale-out and attach. */
export interface BootContext {
  spec: ClusterSpec
  state: StateDir
  plan: ClusterPlan
  backend: NetworkBackend
  /** Where the VMs' QEMUs run: this machine, or the cluster's ssh hosts (chosen once). */
  runner: QemuRunner
  /** How this machine's long-lived processes (QEMU, the relay, daemons) are started: directly, or through a detached cluster's keeper. */
  spawner: Spawner
  /** The cluster's ssh hosts while it runs (what a lost host means, and what each has removed at stop). */
  remoteHosts?: RemoteHosts
  /** Why the cluster cannot be used any more (a lost ssh host), once it cannot. */
  failure: () => Error | undefined
  /** The cluster's logger (its lines say which cluster). */
  log: Logger
  accel: 'kvm' | 'tcg'
  /** The image, loaded at the first boot that needs it. */
  image: () => Promise<ImageManifest>
  initrd: string
  /** The package layer of a VM (built when first asked for), if it has packages. */
  layer: (vm: number) => Promise<PackageLayer | undefined>
  bootTimeout: number
  /** Why this cluster cannot boot VMs now (its recorded options no longer validate); it can still be used and stopped. */
  refused?: Error
  /** snapshot: true: the cluster's snapshot (found at the first boot). */
  snapshot?: ClusterSnapshot
}

/** The boot bound of one VM: generous under TCG, where a VM boots in seconds but 2 cores are shared. */
export function defaultBootTimeout(accel: 'kvm' | 'tcg', nvms: number, concurrency: number): number {
  const waves = Math.ceil(nvms / concurrency)
  return (accel === 'kvm' ? 30_000 : 90_000) + Math.min(waves, 10) * 10_000
}

/** The boot context of a cluster recorded in `state` with `plan` (its keeper, if any, decides the spawner; its ssh hosts, if any, where QEMU runs). */
export async function prepareBoot(spec: ClusterSpec, state: StateDir, plan: ClusterPlan, refused?: Error, layers = new Map<number, PackageLayer>(), ssh?: SshHosts): Promise<BootContext> {
  const log = (spec.log ?? stderrLogger()).child(`cluster ${plan.name}`)
  const spawner = spawnerFor(state.state.keeper?.socket, log)
  // On ssh hosts each host's accelerator is its own (read there at the start); here, TCG's generous boot bounds.
  const accel = spec.sshHosts ? 'tcg' : await resolveAccel(spec.accel)
  let image: Promise<ImageManifest> | undefined
  const layer = async (vm: number): Promise<PackageLayer | undefined> => {
    if (!layers.has(vm)) for (const [n, l] of await packageLayers(spec, [vm])) layers.set(n, l)
    return layers.get(vm)
  }
  const remoteHosts = ssh ? new RemoteHosts(ssh, state, log) : undefined
  const failure = (): Error | undefined => remoteHosts?.failure()
  const backend = createBackend(plan, state, spec, spawner, log, ssh, failure)
  const runner: QemuRunner = ssh
    ? new SshRunner(ssh, { id: plan.id, stateDir: state.dir, detached: state.state.detached, specs: spec.sshHosts!, accel: spec.accel, firstHost: plan.hosts![0], failure, log })
    : new LocalRunner(spawner, (argv, vm) => backend.wrap(argv, vm), accel)
  return {
    spec, state, plan, spawner, accel, refused, layer, backend, runner, remoteHosts, failure, log,
    image: () => (image ??= imageFor(spec)),
    initrd: state.path('initrd.gz'),
    bootTimeout: spec.bootTimeout ?? defaultBootTimeout(accel, plan.vms.length, spec.bootConcurrency ?? defaultBootConcurrency()),
  }
}

/** Launch one VM and wait until its control shell answers; the VM is stopped if it does not. With `from`, QEMU loads the VM's saved state instead of booting it. */
export async function bootVm(boot: BootContext, vmPlan: VmPlan, onLaunch?: () => void, from?: Snapshot): Promise<RunningVm> {
  const { state, backend } = boot
  if (boot.refused) throw boot.refused
  // QEMU waits on a state file that `cat` cannot read instead of failing: look first.
  for (const f of from ? [stateFile(from.dir, vmPlan.name), ramFile(from.dir, vmPlan.name)] : []) {
    if (!existsSync(f)) throw new VmBootError(vmPlan.name, `its saved state ${f} is missing`, '')
  }
  const image = await boot.image()
  const layer = await boot.layer(vmPlan.num)
  await backend.prepareVm(vmPlan)
  const files = {
    console: state.path(`${vmPlan.name}.console`),
    qmp: state.path(`${vmPlan.name}.qmp`),
    pidfile: state.path(`${vmPlan.name}.pid`),
  }
  const nicArgs: string[][] = []
  for (const nic of vmPlan.nics) nicArgs.push(await backend.nicArgs(vmPlan, nic))
  // Where the VM runs: its files there (copied once, by hash, to an ssh host), and QEMU started there.
  const { runner } = boot
  const at = (p: string): Promise<string> => runner.stage(vmPlan, p)
  const qemuArgv = [
    QEMU,
    ...qemuArgs({
      vm: vmPlan, accel: runner.accelOf(vmPlan), kernel: await at(image.kernel), initrd: from ? join(from.dir, 'initrd') : await at(boot.initrd),
      files: runner.files(vmPlan, files), nicArgs, clusterTag: boot.plan.id,
      toolsDisk: boot.spec.tools ? await at(image.tools) : undefined, packagesDisk: layer ? await at(layer.path) : undefined, tbSize: boot.spec.tbSize,
      // snapshot: true: RAM a save can copy out (a shared memfd); restored, the snapshot's RAM file mapped copy-on-write.
      ram: from ? { kind: 'file', path: ramFile(from.dir, vmPlan.name) } : boot.spec.snapshot ? { kind: 'memfd' } : undefined,
    }),
    ...(from ? ['-incoming', 'defer'] : []),
  ]
  const host = runner.hostOf(vmPlan)
  const qemuLog = state.path(`${vmPlan.name}.qemu.log`)
  state.update((r) => {
    r.vms[vmPlan.name] = { num: vmPlan.num, name: vmPlan.name, ...files, qemuLog, dir: state.dir, ...(host ? { host } : {}) }
  })
  // A killed QEMU (restart, restore) leaves its monitor socket: the new one's is waited for by its file.
  rmSync(files.qmp, { force: true })
  const proc = await runner.launch(vmPlan, qemuArgv, { ...files, log: qemuLog })
  state.update((r) => {
    r.vms[vmPlan.name].process = proc.record
    r.vms[vmPlan.name].startedAt = new Date().toISOString()
  })
  onLaunch?.()
  const vm = new RunningVm(vmPlan, state.state.vms[vmPlan.name], proc, backend, boot.failure)
  const started = Date.now()
  try {
    if (from) {
      // The guest is up already: no console marker to wait for (its console starts empty); log in with the secret it was saved with, then make it this cluster's.
      await loadState(files.qmp, stateFile(from.dir, vmPlan.name), () => vm.alive, RESTORE_TIMEOUT_MS)
      await resumeRestored(files.qmp, () => vm.alive, RESTORE_TIMEOUT_MS)
      const ch = await waitReady(vm, Math.min(boot.bootTimeout, RESTORE_TIMEOUT_MS), from.meta.secrets[vmPlan.name])
      await rekey(boot, ch)
      vm.adoptChannel(ch)
      checkRcFailures(boot, vm, ch)
    } else {
      const ch = await waitReady(vm, boot.bootTimeout)
      vm.adoptChannel(ch)
      // The boot's time, from the launch recorded above: what the cluster's wait budgets are scaled by.
      // Best effort: a VM that booted is up even where its record cannot be written now (a full disk); the budgets then go without its time.
      const unwritten = state.tryUpdate((r) => void (r.vms[vmPlan.name].readyAt = new Date().toISOString()))
      if (unwritten) boot.log.debug(`${vmPlan.name}: its ready time is not recorded (${unwritten.message.split('\n')[0]})`)
      checkRcFailures(boot, vm, ch)
    }
    return vm
  } catch (e) {
    await vm.stop().catch(() => {})
    // What is no boot failure of the VM's: a full disk here says so as itself.
    if (e instanceof VmBootError || e instanceof DiskWriteError) throw e
    throw new VmBootError(
      vmPlan.name,
      `no telnet shell within ${Math.round((Date.now() - started) / 1000)} s (${(e as Error).message})`,
      consoleTail(files.console),
      { cause: e },
    )
  }
}

/** The rc scripts that failed in `vm` (told by its control channel at ready): said, or with rcFailures: 'fail' a VmBootError. */
function checkRcFailures(boot: BootContext, vm: RunningVm, ch: ShellChannel): void {
  const failures = parseRcReport(ch.rcReport)
  vm.rcFailures = failures
  if (!failures.length) return
  const report = formatRcFailures(vm.name, failures)
  if (boot.spec.rcFailures === 'fail') {
    const what = failures.length === 1 ? 'an rc script failed' : `${failures.length} rc scripts failed`
    throw new VmBootError(vm.name, `${what} (rcFailures: 'fail'):\n${report}`, vm.consoleTail(), { rcFailures: failures })
  }
  for (const f of failures) boot.log.warn(formatRcFailures(vm.name, [f]))
}

/** The last lines of a VM's QEMU log, on one line. */
function qemuLogTail(vm: RunningVm): string {
  try {
    return readFileSync(vm.qemuLog, 'utf8').trim().split('\n').slice(-5).join(' | ')
  } catch {
    return ''
  }
}

/**
 * Readiness: the boot script (overlays, rc scripts) is done and the telnet
 * control shell answers. Fails at once when QEMU exits. The harness connects
 * once the console says telnetd runs (`xc-phase: telnet`, seen through an
 * inotify watch of the console file): a user-mode forward accepts at once and
 * then retries the guest with growing back-off, so an earlier connect would
 * only add seconds. The control shell then answers when the boot script has
 * finished (xc-ctl waits for /run/xcluster-ready). Without the marker (an
 * unusual init) it connects after 20 s anyway.
 */
async function waitReady(vm: RunningVm, timeoutMs: number, restoredSecret?: string): Promise<ShellChannel> {
  const deadline = Date.now() + timeoutMs
  const dead = (): VmBootError => {
    const log = qemuLogTail(vm)
    return new VmBootError(vm.name, `QEMU ${vm.process.exitReason}${log ? `: ${log}` : ''}`, vm.consoleTail())
  }
  // A full disk keeps QEMU from writing the console, and with it the marker: then connect at once (the guest runs all the same).
  if (restoredSecret === undefined) await waitForConsoleMarker(vm.record.console, 'xc-phase: telnet', Math.min(20_000, timeoutMs), () => !vm.alive || noSpaceLeft(vm.stateDir))
  // Rejects when QEMU exits, so that a channel waiting for the ready marker gives up at once.
  let ready = false
  const death = waitFor(() => !vm.alive, { timeoutMs, intervalMs: 100, abort: () => ready }).then((gone) => {
    if (gone) throw new AbortError(dead())
    return new Promise<never>(() => {})
  })
  death.catch(() => {})
  try {
    return await pRetry(
      async () => {
        if (!vm.alive) throw new AbortError(dead())
        const left = deadline - Date.now()
        if (left <= 0) throw new AbortError(new XcTimeoutError(`boot timeout of ${timeoutMs} ms`))
        return vm.connect(left, death, restoredSecret)
      },
      { retries: 100_000, minTimeout: 20, maxTimeout: 200, factor: 1.3, maxRetryTime: timeoutMs },
    )
  } finally {
    ready = true
  }
}
