// startCluster: validate -> plan -> network backend -> image -> launcher ->
// readiness -> RunningCluster. Any failure on the way stops what was started.
import { availableParallelism } from 'node:os'
import { existsSync, writeFileSync, readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import pRetry, { AbortError } from 'p-retry'
import { ClusterConfigError, PermissionError, VmBootError, XclusterError } from '../errors.ts'
import { buildImage, loadImage, type ImageManifest } from '../image/build-image.ts'
import { xclusterHome } from '../image/home.ts'
import { buildSegment } from '../image/overlay-segment.ts'
import type { NetworkBackend } from '../net/backend.ts'
import { createBackend } from '../net/create-backend.ts'
import { allocatePortBlock, allocationOf } from '../net/port-block.ts'
import { overlaySearchPath, resolveOverlay } from './overlay-path.ts'
import { checkOptions, type ClusterOptions, type ClusterSpec, type Role } from '../plan/options.ts'
import { hostsFile, planCluster, type ClusterPlan, type VmPlan } from '../plan/plan.ts'
import { QEMU, resolveAccel } from '../qemu/accel.ts'
import { qemuArgs } from '../qemu/qemu-args.ts'
import { QemuProcess } from '../qemu/launcher.ts'
import { cleanupDeadClusters, removeClusterResources } from './cleanup.ts'
import { preflight, RIGHTS_PROBLEM } from './preflight.ts'
import { RunningCluster } from './running-cluster.ts'
import { consoleTail, RunningVm } from './running-vm.ts'
import { waitForConsoleMarker } from './console-marker.ts'
import { StateDir } from './state-dir.ts'
import type { ShellChannel } from '../control/shell-channel.ts'
import { defaultStart, StartContext } from './start-context.ts'
import { Teardown } from './teardown.ts'
import { clusterKeys } from '../control/ssh-keys.ts'
import { getTopology } from '../topology/index.ts'
import { renderScript, TOPOLOGY_RC } from '../topology/script.ts'
import { startKeeper } from './keeper.ts'

export interface StartOptions {
  /** Leave the cluster running after this process exits (xc start). */
  detached?: boolean
}

/** Validate options: every problem in one ClusterConfigError, nothing started. */
export function validateOptions(options: ClusterOptions): ClusterSpec {
  const { spec, problems } = checkOptions(options)
  // Overlays given by name are looked up in the overlay search path.
  const dirs = overlaySearchPath(Array.isArray(options.ovlPath) ? options.ovlPath : undefined)
  const resolve = (list: string[]): string[] => list.map((o) => resolveOverlay(o, dirs))
  spec.overlays = resolve(spec.overlays)
  for (const role of Object.keys(spec.overlaysRole) as Role[]) spec.overlaysRole[role] = resolve(spec.overlaysRole[role] ?? [])
  for (const vm of Object.keys(spec.overlaysVm)) spec.overlaysVm[Number(vm)] = resolve(spec.overlaysVm[Number(vm)])
  problems.push(...preflight(options, spec, dirs))
  if (problems.some((p) => p.startsWith(RIGHTS_PROBLEM))) throw new PermissionError(problems)
  if (problems.length) throw new ClusterConfigError(problems)
  return spec
}

/** The image for these options: the one setup built, or one for the user's kernel. */
export async function imageFor(options: ClusterOptions, home: string): Promise<ImageManifest> {
  const kernel = options.kernel ?? (process.env.XCLUSTER_KERNEL || undefined)
  if (!kernel) return loadImage(home)
  const modules = options.modules ?? process.env.XCLUSTER_MODULES
  const key = createHash('sha256').update(`${kernel}\0${modules}`).digest('hex').slice(0, 12)
  return buildImage({ home: join(home, 'kernels', key), kernel, modules })
}

/** The boot bound of one VM: generous under TCG, where a VM boots in seconds but 2 cores are shared. */
export function defaultBootTimeout(accel: 'kvm' | 'tcg', nvms: number, concurrency: number): number {
  const waves = Math.ceil(nvms / concurrency)
  return (accel === 'kvm' ? 30_000 : 90_000) + Math.min(waves, 10) * 10_000
}

/** Everything a cluster needs to boot a VM; shared by start and scale-out. */
export interface BootContext {
  home: string
  spec: ClusterSpec
  state: StateDir
  plan: ClusterPlan
  backend: NetworkBackend
  accel: 'kvm' | 'tcg'
  image: ImageManifest
  initrd: string
  detached: boolean
  bootTimeout: number
  /** Socket of the keeper that parents a detached cluster's processes. */
  keeper?: string
}

/** The cluster's settings as seen inside every VM (/etc/xcluster/cluster.env). */
function clusterEnv(plan: ClusterPlan, tools: boolean): string {
  const count = (role: string): number => plan.vms.filter((v) => v.role === role).length
  return [
    `PREFIX=${plan.prefix}`,
    `XCLUSTER_ID=${plan.id}`,
    `XCLUSTER_NAME=${plan.name}`,
    `XCLUSTER_NETWORK=${plan.network}`,
    `XCLUSTER_TOOLS=${tools ? 'yes' : 'no'}`,
    `__nvm=${count('node')}`,
    `__nrouters=${count('router')}`,
    `__ntesters=${count('tester')}`,
    `export PREFIX XCLUSTER_ID XCLUSTER_NAME XCLUSTER_NETWORK XCLUSTER_TOOLS __nvm __nrouters __ntesters`,
  ].join('\n') + '\n'
}

/** Write the cluster's initrd: the base image followed by the cluster's own segment. */
async function writeInitrd(spec: ClusterSpec, plan: ClusterPlan, image: ImageManifest, state: StateDir, path: string): Promise<string> {
  const keyPath = state.path('id_ed25519')
  const overlays: Record<string, string[]> = { all: spec.overlays }
  for (const [role, list] of Object.entries(spec.overlaysRole)) if (list?.length) overlays[role] = list
  for (const [num, list] of Object.entries(spec.overlaysVm)) {
    const vm = plan.vms.find((v) => v.num === Number(num))
    if (vm && list.length) overlays[vm.name] = list
  }
  const env = clusterEnv(plan, spec.tools)
  const files: Record<string, string | Buffer | { data: string; mode: number }> = { 'etc/hosts': hostsFile(plan), 'etc/xcluster/cluster.env': env }
  const topology = spec.topology ? getTopology(spec.topology) : undefined
  if (topology) {
    files['etc/init.d/11topology.rc'] = { data: TOPOLOGY_RC, mode: 0o755 }
    for (const vm of plan.vms) files[`etc/xcluster/topology/${vm.name}.sh`] = renderScript(vm.name, topology.vmConfig(vm, plan))
  }
  if (spec.tools) {
    const keys = await clusterKeys(state, existsSync(keyPath))
    files['root/.ssh/authorized_keys'] = keys.publicKey + '\n'
    files['etc/dropbear/dropbear_ed25519_host_key'] = keys.hostKey
  }
  const segment = await buildSegment({
    files,
    overlays,
    env: {
      ...(process.env as Record<string, string>),
      ...Object.fromEntries(env.split('\n').filter((l) => l.includes('=') && !l.startsWith('export')).map((l) => l.split(/=(.*)/s).slice(0, 2))),
    },
  })
  writeFileSync(path, Buffer.concat([readFileSync(image.initrd), segment]))
  return path
}

/** (Re)write the cluster's initrd from its current plan (at start, and before a scale-out). */
export async function writeClusterInitrd(ctx: BootContext): Promise<void> {
  await writeInitrd(ctx.spec, ctx.plan, ctx.image, ctx.state, ctx.initrd)
}

/** Launch one VM and wait until its control shell answers; the VM is stopped if it does not. */
export async function bootVm(ctx: BootContext, vmPlan: VmPlan, onLaunch?: () => void): Promise<RunningVm> {
  const { state, backend } = ctx
  await backend.prepareVm(vmPlan)
  const files = {
    console: state.path(`${vmPlan.name}.console`),
    qmp: state.path(`${vmPlan.name}.qmp`),
    pidfile: state.path(`${vmPlan.name}.pid`),
  }
  const nicArgs: string[][] = []
  for (const nic of vmPlan.nics) nicArgs.push(await backend.nicArgs(vmPlan, nic))
  const argv = backend.wrap([
    QEMU,
    ...qemuArgs({
      vm: vmPlan, accel: ctx.accel, kernel: ctx.image.kernel, initrd: ctx.initrd, files, nicArgs, clusterTag: ctx.plan.id,
      toolsDisk: ctx.spec.tools ? ctx.image.tools : undefined, tbSize: ctx.spec.tbSize,
    }),
  ], vmPlan)
  state.update((r) => {
    r.vms[vmPlan.name] = { num: vmPlan.num, name: vmPlan.name, ...files }
  })
  const proc = await QemuProcess.launch(
    { argv, logFile: state.path(`${vmPlan.name}.qemu.log`), detached: ctx.detached, keeper: ctx.keeper },
    files.qmp,
  )
  state.update((r) => {
    r.vms[vmPlan.name].process = proc.record
    r.vms[vmPlan.name].startedAt = new Date().toISOString()
  })
  onLaunch?.()
  const vm = new RunningVm(vmPlan, state.state.vms[vmPlan.name], proc, backend)
  const started = Date.now()
  try {
    const ch = await waitReady(vm, ctx.bootTimeout)
    vm.adoptChannel(ch)
    return vm
  } catch (e) {
    await vm.stop().catch(() => {})
    if (e instanceof VmBootError) throw e
    throw new VmBootError(
      vmPlan.name,
      `no telnet shell within ${Math.round((Date.now() - started) / 1000)} s (${(e as Error).message})`,
      consoleTail(files.console),
      { cause: e },
    )
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
async function waitReady(vm: RunningVm, timeoutMs: number): Promise<ShellChannel> {
  const qemuLog = (): string => {
    try {
      return readFileSync(vm.record.console.replace(/\.console$/, '.qemu.log'), 'utf8').trim()
    } catch {
      return ''
    }
  }
  const started = Date.now()
  const deadline = started + timeoutMs
  const dead = (): VmBootError => {
    const log = qemuLog()
    return new VmBootError(vm.name, `QEMU ${vm.process.exitReason}${log ? `: ${log.split('\n').slice(-5).join(' | ')}` : ''}`, vm.consoleTail())
  }
  await waitForConsoleMarker(vm.record.console, 'xc-phase: telnet', Math.min(20_000, timeoutMs), () => !vm.alive)
  // Rejects when QEMU exits, so that a channel waiting for the ready marker gives up at once.
  let poll: NodeJS.Timeout | undefined
  const death = new Promise<never>((_, reject) => {
    poll = setInterval(() => {
      if (!vm.alive) reject(new AbortError(dead()))
    }, 100)
  })
  death.catch(() => {})
  try {
    return await pRetry(
      async () => {
        if (!vm.alive) throw new AbortError(dead())
        const left = deadline - Date.now()
        if (left <= 0) throw new AbortError(new Error(`boot timeout of ${timeoutMs} ms`))
        return vm.connect(left, death)
      },
      { retries: 100_000, minTimeout: 20, maxTimeout: 200, factor: 1.3, maxRetryTime: timeoutMs },
    )
  } finally {
    clearInterval(poll)
  }
}

/**
 * Run `fn` over `items` with at most `limit` at once; the first failure stops
 * new starts. With `admit`, each start first waits for it (told how many run now).
 */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (t: T) => Promise<R>,
  admit?: (running: () => number) => Promise<void>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length)
  let next = 0
  let running = 0
  let failed = false
  // Admissions go one at a time, and each counts itself as running before the
  // next is asked: otherwise every worker would pass an idle pool at once.
  let admissions: Promise<void> = Promise.resolve()
  const admitted = (): Promise<void> => {
    const mine = admissions.then(async () => {
      if (admit && !failed) await admit(() => running)
      running++
    })
    admissions = mine.catch(() => {})
    return mine
  }
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      await admitted()
      try {
        if (failed) {
          results[i] = { status: 'rejected', reason: new XclusterError('not started: another VM failed first') }
          continue
        }
        results[i] = { status: 'fulfilled', value: await fn(items[i]) }
      } catch (reason) {
        failed = true
        results[i] = { status: 'rejected', reason }
      } finally {
        running--
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  return results
}

/** How many VMs may boot at once by default: every boot is CPU-bound under TCG. */
export function defaultBootConcurrency(): number {
  return Math.max(2, availableParallelism() * 4)
}

/** Tasks runnable on the host right now (/proc/loadavg, 4th field), less the reader. */
export function runnableTasks(): number | undefined {
  try {
    const m = /\s(\d+)\/\d+\s/.exec(readFileSync('/proc/loadavg', 'utf8'))
    return m ? Math.max(0, Number(m[1]) - 1) : undefined
  } catch {
    return undefined
  }
}

/**
 * The default admission of boots: another boot starts only while the host's
 * runnable tasks (our booting QEMUs and anything else) are at most twice its
 * cores, or when nothing of ours is booting. So a big cluster boots in waves
 * that follow the machine: 2 cores give about 4 boots at a time on an idle
 * host and fewer on a busy one, instead of xcluster's batches of 20 by hand.
 */
export function loadGate(cores = availableParallelism(), pollMs = 50): (running: () => number) => Promise<void> {
  return async (running) => {
    for (;;) {
      const r = runnableTasks()
      if (running() === 0 || r === undefined || r <= cores * 2) return
      await new Promise((res) => setTimeout(res, pollMs))
    }
  }
}

/**
 * Run `fn` (a boot) over `items` with the cluster's admission: an explicit
 * bootConcurrency as it is, else up to defaultBootConcurrency() at once behind
 * the load gate. Start and scale-out both boot through here.
 */
export function bootEach<T, R>(spec: ClusterSpec, items: T[], fn: (t: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  return spec.bootConcurrency ? mapLimit(items, spec.bootConcurrency, fn) : mapLimit(items, defaultBootConcurrency(), fn, loadGate())
}

/**
 * Boot a cluster of real QEMU VMs and wait until every VM's telnet shell
 * answers. Stop it with `await cluster.stop()` or `await using`.
 */
export async function startCluster(options: ClusterOptions = {}, start: StartOptions = {}): Promise<RunningCluster> {
  const spec = validateOptions(options)
  const home = xclusterHome(options.home)
  const detached = start.detached ?? false
  const accel = await resolveAccel(spec.accel)
  const image = await imageFor(options, home)
  await cleanupDeadClusters(home)

  const state = StateDir.create(home, spec.name, spec.network, detached)
  const t0 = Date.now()
  let backend: NetworkBackend | undefined
  let sc: StartContext | undefined
  try {
    const block = await allocatePortBlock(home, state.id, spec.vms, (owner) => owner !== state.id && !stateExists(home, owner))
    state.update((r) => (r.portBlock = block))
    const plan = planCluster(spec, allocationOf(state.id, block))
    state.update((r) => {
      r.plan = plan
      r.options = serialisableOptions(options)
    })
    const keeper = detached ? await startKeeper(state) : undefined
    backend = createBackend(plan, state, spec)
    const concurrency = spec.bootConcurrency ?? defaultBootConcurrency()
    const ctx: BootContext = {
      home, spec, state, plan, backend, accel, image, initrd: state.path('initrd.gz'), detached,
      bootTimeout: spec.bootTimeout ?? defaultBootTimeout(accel, plan.vms.length, concurrency),
      keeper,
    }
    const startCtx: StartContext = new StartContext(ctx, {
      writeInitrd: () => writeClusterInitrd(ctx),
      bootVm: (num, onLaunch) => {
        const vmPlan = ctx.plan.vms.find((v) => v.num === num)
        if (!vmPlan) throw new XclusterError(`boot: no VM ${num} in the plan`)
        return bootVm(ctx, vmPlan, onLaunch)
      },
      bootEach: (items, fn) => bootEach(spec, items, fn),
      progress: (kind, vm) =>
        options.onProgress?.({ kind, vm, ready: startCtx.vms.length, total: ctx.plan.vms.length, elapsedMs: Date.now() - t0 }),
    })
    sc = startCtx
    await (spec.start ?? defaultStart)(startCtx)
    if (!startCtx.booted) throw new XclusterError('The custom start returned without booting any VM: call `await ctx.boot()` in it')
    for (const [num, nets] of Object.entries(spec.impairments)) {
      const vm = startCtx.vms.find((v) => v.num === Number(num))
      if (!vm) throw new XclusterError(`impairments: no VM ${num} in the cluster`)
      for (const [net, imp] of Object.entries(nets)) await vm.link(Number(net)).impair(imp)
    }
    return new RunningCluster(home, state, ctx.plan, ctx, startCtx.vms, startCtx.stopHooks)
  } catch (e) {
    const t = new Teardown()
    t.push('state', () => removeClusterResources(home, state).then(() => {}))
    t.push('network', () => backend?.teardown())
    t.push('VMs', async () => {
      await Promise.allSettled((sc?.vms ?? []).map((vm) => vm.stop()))
    })
    for (const h of sc?.stopHooks ?? []) t.push(h.label, h.fn)
    await t.run().catch(() => {})
    throw e
  }
}

function stateExists(home: string, id: string): boolean {
  try {
    StateDir.open(join(home, 'run', id))
    return true
  } catch {
    return false
  }
}

/** The JSON-safe part of the options (functions dropped), kept for `xc scaleout`. */
function serialisableOptions(o: ClusterOptions): Record<string, unknown> {
  return JSON.parse(JSON.stringify(o, (_k, v) => (typeof v === 'function' ? undefined : v))) as Record<string, unknown>
}

