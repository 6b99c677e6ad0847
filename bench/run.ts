// npm run bench [-- --quick | --no-scale | --only-scale]
//
// What the harness costs, what a boot costs, and how far one machine goes, in one run:
//   1. stock baseline: one bare QEMU booting Debian's cloud kernel as packaged
//      (bzImage) with a gzip initramfs of busybox and the signed virtio
//      modules, q35 + qboot, no boot tuning; against it one VM of the harness
//      from startCluster() to telnet-ready (the stock runs alternate with the
//      1-VM floor and harness runs, as many of each);
//   2. cluster-ready time for 1, 8 and 32 VMs (user mode) against the floor:
//      as many bare QEMU processes with the harness's own kernel, initramfs and
//      machine arguments, all spawned at once, to 'xc-phase: ready';
//   3. the same 8-VM cluster in bridge mode; exec('true') latency in both modes;
//   4. boot phases of one VM from its console;
//   5. idle RSS and CPU per VM over 30 s (the 8-VM cluster);
//   6. TCP throughput VM to VM over net 1 (iperf3), user against bridge mode;
//   7. scale: 100 VMs (mem 80, tbSize 24) in user and in bridge mode, with the
//      time to all ready, the machine's peak memory, RSS and PSS, and ping over
//      net 1 between 100 sampled pairs.
// Floor and harness runs alternate and medians are reported. The benchmark
// reports ratios measured in the same run; it never fails on a number.
// Everything it starts is stopped in finally blocks (and on Ctrl-C).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import {
  loadImage,
  planCluster,
  startCluster,
  validateOptions,
  xclusterHome,
  type ClusterOptions,
  type RunningCluster,
  type RunningVm,
} from '../src/index.ts'
import { removeClusterResources } from '../src/cluster/cleanup.ts'
import { STD_ADDRESSES } from '../fixtures/index.ts'
import { listStates } from '../src/cluster/state-dir.ts'
import { baseEntries, BASE_MODULES } from '../src/image/build-image.ts'
import { cpioGz } from '../src/image/cpio.ts'
import { moduleClosure, parseModulesDep } from '../src/image/modules.ts'
import { QEMU, resolveAccel } from '../src/qemu/accel.ts'
import { ConsoleWatcher, parsePhases, PHASES, type Phase } from './console.ts'
import { bootFloor, liveFloors, type FloorResult } from './floor.ts'
import { idleCost, rssKiB, type IdleSample } from './procstat.ts'
import { mean, median, msec, percentile, ratio, round, secs, table, times } from './stats.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
const RESULTS = join(HERE, 'results.json')

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const onlyScale = argv.includes('--only-scale')
const scale = onlyScale || !(quick || argv.includes('--no-scale'))
const SERIES: Array<{ n: number; reps: number }> = quick
  ? [{ n: 1, reps: 2 }, { n: 8, reps: 1 }]
  : [{ n: 1, reps: 3 }, { n: 8, reps: 2 }, { n: 32, reps: 1 }]
const SCALE_VMS = Number(process.env.XC_BENCH_SCALE ?? 100)
const SCALE_PAIRS = 100
const XC_VMS = Number(process.env.XC_BENCH_XC_VMS ?? 50)
const XC = join(HERE, '..', 'bin', 'xc.js')
const SCALE_OPTIONS: Partial<ClusterOptions> = { mem: 80, tbSize: 24, overlays: [STD_ADDRESSES] }
const EXEC_WARMUP = 10
const EXEC_CALLS = 200
const IDLE_WINDOW_MS = quick ? 10_000 : 30_000
const FLOOR_TIMEOUT_MS = 300_000

const T0 = performance.now()
function log(msg: string): void {
  console.log(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(6)} s] ${msg}`)
}

// ---------------------------------------------------------------- bookkeeping

const live = new Set<RunningCluster>()
const errors: string[] = []

async function stopCluster(c: RunningCluster): Promise<number> {
  const t = performance.now()
  try {
    await c.stop()
  } finally {
    live.delete(c)
  }
  return performance.now() - t
}

/** Stop what is running; with `inFlight`, also remove a cluster whose start was cut short (by its recorded state). */
async function stopEverything(inFlight = false): Promise<void> {
  await Promise.allSettled([...live].map((c) => stopCluster(c)))
  await Promise.allSettled([...liveFloors].map((f) => f()))
  if (inFlight) {
    const home = xclusterHome()
    const ours = listStates(home).filter((s) => s.state.owner.pid === process.pid)
    await Promise.allSettled(ours.map((s) => removeClusterResources(home, s)))
  }
}

let interrupted = false
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return
    interrupted = true
    log(`${sig}: stopping what the benchmark started ...`)
    void stopEverything(true).finally(() => process.exit(130))
  })
}

/** Run one part; a failure is recorded and the benchmark goes on. */
async function part<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn()
  } catch (e) {
    const msg = (e as Error).message ?? String(e)
    errors.push(`${name}: ${msg}`)
    log(`FAILED ${name}: ${msg.split('\n')[0]}`)
    return undefined
  }
}

// ---------------------------------------------------------------- measurements

interface ExecStats {
  n: number
  medianMs: number
  p95Ms: number
  meanMs: number
  minMs: number
  maxMs: number
}

async function execLatency(vm: RunningVm): Promise<ExecStats> {
  for (let i = 0; i < EXEC_WARMUP; i++) await vm.exec('true')
  const xs: number[] = []
  for (let i = 0; i < EXEC_CALLS; i++) {
    const t = performance.now()
    const r = await vm.exec('true')
    xs.push(performance.now() - t)
    if (r.exitCode !== 0) throw new Error(`exec('true') on ${vm.name} exited ${r.exitCode}: ${r.stderr}`)
  }
  return {
    n: xs.length,
    medianMs: round(median(xs), 2),
    p95Ms: round(percentile(xs, 95), 2),
    meanMs: round(mean(xs), 2),
    minMs: round(Math.min(...xs), 2),
    maxMs: round(Math.max(...xs), 2),
  }
}

interface IdleResult {
  windowMs: number
  perVm: Array<{ vm: string; pid: number; rssMiB: number; cpuPct: number }>
  /** Means over the 4 node VMs (nvm 4). */
  nodes: { n: number; rssMiB: number; cpuPct: number }
  /** Means over every VM of the cluster (nodes and routers). */
  all: { n: number; rssMiB: number; cpuPct: number }
}

async function idle(c: RunningCluster): Promise<IdleResult> {
  await new Promise((r) => setTimeout(r, 1000)) // let the last exec settle
  const vms = c.vms
  const samples: IdleSample[] = await idleCost(vms.map((v) => v.process.record.pid), IDLE_WINDOW_MS)
  const perVm = vms.map((v, i) => ({ vm: v.name, pid: samples[i].pid, rssMiB: round(samples[i].rssKiB / 1024, 1), cpuPct: round(samples[i].cpuPct, 2) }))
  const avg = (rows: typeof perVm): { n: number; rssMiB: number; cpuPct: number } => ({
    n: rows.length,
    rssMiB: round(mean(rows.map((r) => r.rssMiB)), 1),
    cpuPct: round(mean(rows.map((r) => r.cpuPct)), 2),
  })
  const nodes = perVm.filter((_, i) => vms[i].role === 'node')
  return { windowMs: IDLE_WINDOW_MS, perVm, nodes: avg(nodes), all: avg(perVm) }
}

interface HarnessRun {
  ms: number
  stopMs?: number
  exec?: ExecStats
  idle?: IdleResult
}

/** Boot n VMs (nodes only), time startCluster to ready; with `extras`, measure exec (and idle in user mode) on it. */
async function harnessRun(n: number, network: 'user' | 'bridge', extras: boolean): Promise<HarnessRun> {
  let c: RunningCluster | undefined
  const run: HarnessRun = { ms: NaN }
  const t0 = performance.now()
  try {
    c = await startCluster({ nvm: n, nrouters: 0, name: `bench-${n}`, network })
    run.ms = performance.now() - t0
    live.add(c)
    log(`  harness ${network}: ${n} VM(s) ready in ${secs(run.ms)}`)
    if (extras) {
      const cl = c
      run.exec = await part(`exec latency (${network})`, async () => {
        const r = await execLatency(cl.vm(1))
        log(`  ${network}: exec('true') x ${EXEC_CALLS} on ${cl.vm(1).name}: median ${msec(r.medianMs)}, p95 ${msec(r.p95Ms)}`)
        return r
      })
      if (network === 'user') {
        run.idle = await part('idle cost', async () => {
          log(`  ${network}: idle cost of ${cl.vms.length} VMs over ${IDLE_WINDOW_MS / 1000} s ...`)
          const r = await idle(cl)
          log(`  ${network}: idle per VM: RSS ${r.all.rssMiB} MiB, CPU ${r.all.cpuPct} % of a core`)
          return r
        })
      }
    }
  } finally {
    if (c) run.stopMs = await stopCluster(c)
  }
  return run
}

/** The stock baseline's initramfs: the base image's files with the virtio modules as packaged (signed), gzip. */
async function stockInitrd(dir: string, image: ReturnType<typeof loadImage>): Promise<string> {
  const deps = parseModulesDep(readFileSync(join(image.modulesDir, 'modules.dep'), 'utf8'))
  const { paths } = moduleClosure(deps, BASE_MODULES)
  const file = join(dir, 'stock.cpio.gz')
  writeFileSync(file, cpioGz(await baseEntries(image.modulesDir, image.kernelVersion, paths, { signedModules: true })))
  return file
}

/** Used memory of the machine (MemTotal - MemAvailable), MiB. */
function machineUsedMiB(): number {
  const m = readFileSync('/proc/meminfo', 'utf8')
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(m)?.[1] ?? NaN)
  return (kb('MemTotal') - kb('MemAvailable')) / 1024
}

/** Pss of `pid` in KiB (its share of pages shared with other processes, such as the mapped vmlinux). */
function pssKiB(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** A small seeded PRNG, so that the sampled pairs are the same in every run. */
function prng(seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x = (x * 1664525 + 1013904223) >>> 0
    return x / 2 ** 32
  }
}

interface ScaleResult {
  network: 'user' | 'bridge'
  nvm: number
  options: Partial<ClusterOptions>
  readyMs: number
  stopMs?: number
  machineUsedBeforeMiB: number
  machinePeakUsedMiB: number
  machinePeakDeltaMiB: number
  sumRssMiB: number
  sumPssMiB: number
  rssPerVmMiB: number
  pssPerVmMiB: number
  pairs: number
  reachable: number
  failedPairs: string[]
  pingMs: number
}

async function scaleRun(network: 'user' | 'bridge'): Promise<ScaleResult> {
  const before = machineUsedMiB()
  let peak = before
  const sampler = setInterval(() => (peak = Math.max(peak, machineUsedMiB())), 500)
  let c: RunningCluster | undefined
  const t0 = performance.now()
  try {
    let lastLogged = 0
    c = await startCluster({
      nvm: SCALE_VMS,
      nrouters: 0,
      name: `bench-scale-${network}`,
      network,
      ...SCALE_OPTIONS,
      onProgress: (e) => {
        if (e.kind === 'ready' && (e.ready - lastLogged >= 10 || e.ready === e.total)) {
          lastLogged = e.ready
          log(`  ${network}: ${e.ready}/${e.total} ready after ${secs(performance.now() - t0)}, machine uses ${(machineUsedMiB() / 1024).toFixed(1)} GiB`)
        }
      },
    })
    const readyMs = performance.now() - t0
    live.add(c)
    peak = Math.max(peak, machineUsedMiB())
    const pids = c.vms.map((v) => v.process.record.pid)
    const sumRss = pids.reduce((a, p) => a + (rssKiB(p) ?? 0), 0) / 1024
    const sumPss = pids.reduce((a, p) => a + (pssKiB(p) ?? 0), 0) / 1024
    log(`  ${network}: all ${c.vms.length} VMs ready in ${secs(readyMs)}; QEMU RSS total ${(sumRss / 1024).toFixed(2)} GiB, PSS total ${(sumPss / 1024).toFixed(2)} GiB`)
    // Reachability over net 1 between sampled pairs (a != b), 8 pings at a time.
    const rnd = prng(42)
    const n = c.vms.length
    const pairs = Array.from({ length: SCALE_PAIRS }, () => {
      const a = 1 + Math.floor(rnd() * n)
      let b = 1 + Math.floor(rnd() * (n - 1))
      if (b >= a) b++
      return [a, b] as const
    })
    const cl = c
    const tp = performance.now()
    const failed: string[] = []
    let next = 0
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < pairs.length) {
          const [a, b] = pairs[next++]
          const r = await cl.vm(a).exec(`ping -c1 -W3 192.168.1.${b}`, { timeout: 20_000 }).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }))
          if (r.exitCode !== 0) failed.push(`vm-${String(a).padStart(3, '0')} -> 192.168.1.${b}`)
        }
      }),
    )
    const pingMs = performance.now() - tp
    log(`  ${network}: net 1 reachability: ${pairs.length - failed.length}/${pairs.length} sampled pairs in ${secs(pingMs)}`)
    peak = Math.max(peak, machineUsedMiB())
    const result: ScaleResult = {
      network, nvm: n, options: SCALE_OPTIONS, readyMs: round(readyMs, 0),
      machineUsedBeforeMiB: round(before, 0), machinePeakUsedMiB: round(peak, 0), machinePeakDeltaMiB: round(peak - before, 0),
      sumRssMiB: round(sumRss, 0), sumPssMiB: round(sumPss, 0), rssPerVmMiB: round(sumRss / n, 1), pssPerVmMiB: round(sumPss / n, 1),
      pairs: pairs.length, reachable: pairs.length - failed.length, failedPairs: failed, pingMs: round(pingMs, 0),
    }
    result.stopMs = round(await stopCluster(c), 0)
    c = undefined
    log(`  ${network}: stopped in ${secs(result.stopMs)}`)
    return result
  } finally {
    clearInterval(sampler)
    if (c) await stopCluster(c)
  }
}

interface PhaseResult {
  vm: string
  network: 'user'
  /** Guest uptime (s) printed on each phase line. */
  uptimes: Partial<Record<Phase, number>>
  /** Host ms from QEMU spawn until each phase line was seen on the console (polled every 20 ms). */
  hostSeenMs: Partial<Record<Phase, number>>
  /** Host ms from QEMU spawn until the harness's telnet shell answered. */
  spawnToTelnetReadyMs: number
  /** Host ms from the startCluster call until it resolved. */
  startClusterMs: number
  /** Host ms from spawn to the init line (the kernel, and QEMU/firmware before it). */
  spawnToInitMs?: number
  /** Guest-uptime deltas between phase lines, ms. */
  initToNetworkMs?: number
  networkToTelnetMs?: number
  telnetToReadyMs?: number
  /** Host ms from the console's telnet line until the harness's shell answered: readiness-detection lag. */
  telnetLineToShellMs?: number
}

/** Boot one VM alone (user mode) and time its phases from its console. */
async function phaseRun(): Promise<PhaseResult> {
  const home = xclusterHome()
  const name = 'bench-phase'
  const watcher = new ConsoleWatcher(20)
  let spawnAt: number | undefined
  let consolePath: string | undefined
  let c: RunningCluster | undefined
  const t0 = performance.now()
  try {
    c = await startCluster({
      nvm: 1,
      nrouters: 0,
      name,
      onProgress: (e) => {
        if (e.kind !== 'booting') return
        spawnAt = performance.now()
        // The library does not hand out the console path before readiness; find it in our own state dir.
        const st = listStates(home).find((s) => s.state.name === name && s.state.owner.pid === process.pid && !s.state.stoppedAt && s.state.vms[e.vm])
        consolePath = st?.state.vms[e.vm].console
        if (consolePath) {
          watcher.add(consolePath)
          watcher.start()
        }
      },
    })
    const readyAt = performance.now()
    live.add(c)
    const vm = c.vm(1)
    if (spawnAt === undefined) throw new Error('no booting event from startCluster')
    await watcher.waitAll('ready', 10_000)
    const seen = consolePath ? watcher.seen.get(consolePath) ?? {} : {}
    const uptimes = parsePhases(vm.console())
    const hostSeenMs: Partial<Record<Phase, number>> = {}
    for (const p of PHASES) if (seen[p] !== undefined) hostSeenMs[p] = round(seen[p]! - spawnAt, 0)
    const d = (a: Phase, b: Phase): number | undefined =>
      uptimes[a] !== undefined && uptimes[b] !== undefined ? round((uptimes[b]! - uptimes[a]!) * 1000, 0) : undefined
    return {
      vm: vm.name,
      network: 'user',
      uptimes,
      hostSeenMs,
      spawnToTelnetReadyMs: round(readyAt - spawnAt, 0),
      startClusterMs: round(readyAt - t0, 0),
      spawnToInitMs: hostSeenMs.init,
      initToNetworkMs: d('init', 'network'),
      networkToTelnetMs: d('network', 'telnet'),
      telnetToReadyMs: d('telnet', 'ready'),
      telnetLineToShellMs: hostSeenMs.telnet !== undefined ? round(readyAt - spawnAt - hostSeenMs.telnet, 0) : undefined,
    }
  } finally {
    watcher.stop()
    if (c) await stopCluster(c)
  }
}

interface XcStartResult {
  network: 'user' | 'bridge'
  nvm: number
  startMs: number
  alive: number
  answered: number
  stopMs: number
}

/** `xc start` of XC_VMS VMs (detached, as a user runs it), `xc status`, `xc rsh` on the last VM, `xc stop`. */
async function xcStartRun(network: 'user' | 'bridge'): Promise<XcStartResult> {
  const name = `bench-xc-${network}`
  const xc = (args: string[], timeout = 600_000) => execa('node', [XC, ...args], { reject: false, timeout, stdin: 'ignore' })
  let started = false
  try {
    const t0 = performance.now()
    const r = await xc(['start', `--name=${name}`, `--nvm=${XC_VMS}`, '--nrouters=0', '--mem=80', '--tb-size=24', `--network=${network}`])
    const startMs = performance.now() - t0
    started = true
    if (r.exitCode !== 0) throw new Error(`xc start exited ${r.exitCode}: ${(r.stderr || r.stdout).split('\n').slice(-3).join(' | ')}`)
    const st = JSON.parse((await xc(['status', `--name=${name}`, '--json'])).stdout) as { vms: Array<{ alive: boolean }> }
    const alive = st.vms.filter((v) => v.alive).length
    const last = String(XC_VMS).padStart(3, '0')
    const rsh = await xc(['rsh', `--name=${name}`, String(XC_VMS), 'hostname'], 60_000)
    const answered = rsh.exitCode === 0 && rsh.stdout.trim() === `vm-${last}` ? 1 : 0
    log(`  xc start ${network}: ${XC_VMS} VMs in ${secs(startMs)}; xc status: ${alive} alive; xc rsh vm-${last} hostname: ${rsh.stdout.trim() || rsh.stderr.trim()}`)
    const t1 = performance.now()
    const stop = await xc(['stop', `--name=${name}`])
    started = stop.exitCode !== 0
    return { network, nvm: XC_VMS, startMs: round(startMs, 0), alive, answered, stopMs: round(performance.now() - t1, 0) }
  } finally {
    if (started) await xc(['stop', `--name=${name}`])
  }
}

// ---------------------------------------------------------------- main

interface SeriesResult {
  n: number
  floorMs: number
  harnessMs: number
  harnessOverFloor: number
  floorRunsMs: number[]
  harnessRunsMs: number[]
}

async function main(): Promise<void> {
  const mode = onlyScale ? ' (--only-scale)' : quick ? ' (--quick: fewer repetitions, no 32 VMs, no scale)' : scale ? '' : ' (--no-scale)'
  log(`xcluster bench${mode}`)
  const image = loadImage()
  const accel = await resolveAccel('auto')
  const qemuVersion = (await execa(QEMU, ['--version'], { reject: false })).stdout.split('\n')[0]
  const loadBefore = loadavg()
  log(`accel ${accel}, ${availableParallelism()} CPUs, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, kernel ${image.kernelVersion} (${image.kernelBoot.kind})`)
  const floorVms = (n: number) =>
    planCluster(validateOptions({ nvm: n, nrouters: 0 }), { clusterId: 'floor', telnetBase: 0, sshBase: 0, mcastPortBase: 0, mcastGroupPrefix: '239.255.0' }).vms
  const tmp = mkdtempSync(join(tmpdir(), 'xc-bench-'))

  const series: SeriesResult[] = []
  const stockRuns: number[] = []
  const userRuns: HarnessRun[] = []
  const bridgeRuns: HarnessRun[] = []
  let phases: PhaseResult | undefined
  const throughput: Record<string, number> = {}
  const scaleResults: ScaleResult[] = []
  const xcResults: XcStartResult[] = []
  try {
    if (!onlyScale) {
      log('boot phases: one VM alone (user mode); also warms caches ...')
      phases = await part('boot phases', async () => {
        const r = await phaseRun()
        log(`  ${r.vm}: spawn->init ${msec(r.spawnToInitMs, 0)}, init->network ${msec(r.initToNetworkMs, 0)}, network->telnet ${msec(r.networkToTelnetMs, 0)}, telnet->ready ${msec(r.telnetToReadyMs, 0)}, spawn->telnet-ready ${msec(r.spawnToTelnetReadyMs, 0)}`)
        return r
      })

      const stock = await part('stock initramfs', () => stockInitrd(tmp, image))
      for (const { n, reps } of SERIES) {
        const floors: FloorResult[] = []
        const harness: HarnessRun[] = []
        for (let rep = 0; rep < reps; rep++) {
          if (n === 1 && stock) {
            log(`1 VM, run ${rep + 1}/${reps}: stock baseline (bzImage as packaged, gzip initramfs with signed modules, -cpu max, no tuning) ...`)
            const s = await part(`stock #${rep + 1}`, () =>
              bootFloor({ vms: floorVms(1), accel, kernel: image.bzImage, initrd: stock, timeoutMs: FLOOR_TIMEOUT_MS, bootTuning: [], cpu: 'max' }),
            )
            if (s) {
              stockRuns.push(s.ms)
              log(`  stock: ${secs(s.ms)}`)
            }
          }
          log(`${n} VM(s), run ${rep + 1}/${reps}: floor (${n} bare QEMUs at once) ...`)
          const f = await part(`floor ${n} #${rep + 1}`, () =>
            bootFloor({ vms: floorVms(n), accel, kernel: image.kernel, initrd: image.initrd, timeoutMs: FLOOR_TIMEOUT_MS }),
          )
          if (f) {
            floors.push(f)
            log(`  floor: ${secs(f.ms)}`)
          }
          log(`${n} VM(s), run ${rep + 1}/${reps}: harness, user mode ...`)
          const extras = n === 8 && rep === 0
          const u = await part(`harness ${n} user #${rep + 1}`, () => harnessRun(n, 'user', extras))
          if (u && Number.isFinite(u.ms)) {
            harness.push(u)
            if (n === 8) userRuns.push(u)
          }
          if (n === 8 && rep === 0) {
            log(`8 VMs: harness, bridge mode ...`)
            const b = await part('harness 8 bridge', () => harnessRun(8, 'bridge', true))
            if (b && Number.isFinite(b.ms)) bridgeRuns.push(b)
          }
        }
        const floorMs = median(floors.map((r) => r.ms))
        const harnessMs = median(harness.map((r) => r.ms))
        series.push({
          n, floorMs: round(floorMs, 0), harnessMs: round(harnessMs, 0), harnessOverFloor: round(ratio(harnessMs, floorMs), 3),
          floorRunsMs: floors.map((r) => round(r.ms, 0)), harnessRunsMs: harness.map((r) => round(r.ms, 0)),
        })
        log(`${n} VM(s): harness ${secs(harnessMs)} / floor ${secs(floorMs)} = ${times(ratio(harnessMs, floorMs))}`)
      }

      // TCP throughput VM to VM over net 1 (iperf3): user mode (multicast socket net) against bridge mode (tap and bridge).
      for (const network of ['user', 'bridge'] as const) {
        log(`throughput: iperf3 vm-001 -> vm-002 over net 1, ${network} mode ...`)
        await part(`throughput ${network}`, async () => {
          const c = await startCluster({ name: `bench-tp-${network}`, network, nvm: 2, nrouters: 0, tools: true, overlays: [STD_ADDRESSES] })
          live.add(c)
          try {
            await c.vm(2).run('iperf3 -s -D -1')
            const out = await c.vm(1).run('iperf3 -c 192.168.1.2 -t 5 -J', { timeout: 60_000 })
            const bps = (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second
            throughput[network] = bps / 1e6
            log(`  ${network}: ${throughput[network].toFixed(0)} Mbit/s`)
          } finally {
            await stopCluster(c)
          }
        })
      }
    }

    if (scale) {
      for (const network of ['user', 'bridge'] as const) {
        log(`scale: ${SCALE_VMS} VMs in ${network} mode (mem ${SCALE_OPTIONS.mem}, tbSize ${SCALE_OPTIONS.tbSize}) ...`)
        const r = await part(`scale ${network}`, () => scaleRun(network))
        if (r) scaleResults.push(r)
      }
      for (const network of ['user', 'bridge'] as const) {
        log(`scale: xc start of ${XC_VMS} VMs in ${network} mode ...`)
        const r = await part(`xc start ${network}`, () => xcStartRun(network))
        if (r) xcResults.push(r)
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }

  // ---------------------------------------------------------------- report
  const stockMs = median(stockRuns)
  const one = series.find((s) => s.n === 1)
  const s8 = series.find((s) => s.n === 8)
  const execUser = userRuns.find((r) => r.exec)?.exec
  const execBridge = bridgeRuns.find((r) => r.exec)?.exec
  const idleRes = userRuns.find((r) => r.idle)?.idle
  const bridgeMs = median(bridgeRuns.map((r) => r.ms))
  const list = (xs: number[]): string => (xs.length ? `runs ${xs.map((x) => secs(x)).join(', ')}` : 'no run')

  const rows: string[][] = [['measure', 'value', 'detail']]
  if (!onlyScale) {
    rows.push(
      ['stock floor: 1 bare QEMU, kernel as packaged', secs(stockMs), `median; ${list(stockRuns)}; bzImage, gzip busybox + signed virtio modules, q35 + qboot, -cpu max`],
      ['1 VM: startCluster -> telnet-ready', secs(one?.harnessMs), `median; ${list(one?.harnessRunsMs ?? [])}`],
      ['1 VM harness / stock floor', times(ratio(one?.harnessMs ?? NaN, stockMs)), 'target <= 0.7'],
    )
    for (const s of series) {
      rows.push(
        [`${s.n} VM(s): cluster ready (user) / floor`, `${secs(s.harnessMs)} / ${secs(s.floorMs)}`, `harness ${list(s.harnessRunsMs)}; floor ${list(s.floorRunsMs)}`],
        [`${s.n} VM(s): harness / floor`, times(s.harnessOverFloor), s.n === 8 ? 'target <= 1.15' : ''],
      )
    }
    rows.push(
      ['8 VMs: cluster ready, bridge mode', secs(bridgeMs), `bridge / user ${times(ratio(bridgeMs, s8?.harnessMs ?? NaN))}`],
      [`exec('true') user, median / p95`, execUser ? `${msec(execUser.medianMs)} / ${msec(execUser.p95Ms)}` : 'n/a', execUser ? `n=${execUser.n}, min ${msec(execUser.minMs)}, max ${msec(execUser.maxMs)}` : ''],
      [`exec('true') bridge, median / p95`, execBridge ? `${msec(execBridge.medianMs)} / ${msec(execBridge.p95Ms)}` : 'n/a', execBridge ? `n=${execBridge.n}, min ${msec(execBridge.minMs)}, max ${msec(execBridge.maxMs)}` : ''],
    )
    if (phases) {
      const up = phases.uptimes
      rows.push(
        [`boot phases of ${phases.vm} alone (user mode):`, '', ''],
        ['  spawn -> init (QEMU, firmware, kernel)', msec(phases.spawnToInitMs, 0), `host-seen; guest uptime at init ${up.init?.toFixed(2) ?? '?'} s`],
        ['  init -> network', msec(phases.initToNetworkMs, 0), 'guest uptime (modules, eth0, addresses)'],
        ['  network -> telnet', msec(phases.networkToTelnetMs, 0), 'guest uptime (overlays, telnetd)'],
        ['  telnet -> ready', msec(phases.telnetToReadyMs, 0), 'guest uptime (init.d rc scripts)'],
        ['  spawn -> telnet-ready (host)', msec(phases.spawnToTelnetReadyMs, 0), `startCluster total ${msec(phases.startClusterMs, 0)}`],
        ['  ready line -> shell answers', msec(phases.telnetLineToShellMs, 0), 'host: console marker seen -> harness channel open'],
      )
    }
    if (idleRes) {
      rows.push(
        [`idle RSS per VM (mean of ${idleRes.all.n})`, `${idleRes.all.rssMiB} MiB`, `-m ${validateOptions({}).mem}, default tb-size`],
        [`idle CPU per VM (${IDLE_WINDOW_MS / 1000} s)`, `${idleRes.all.cpuPct.toFixed(2)} %`, 'of one core'],
      )
    }
    rows.push(
      ['TCP throughput over net 1, user mode', throughput.user ? `${throughput.user.toFixed(0)} Mbit/s` : 'n/a', 'iperf3 -t 5, vm-001 -> vm-002, multicast socket net'],
      ['TCP throughput over net 1, bridge mode', throughput.bridge ? `${throughput.bridge.toFixed(0)} Mbit/s` : 'n/a', `tap and Linux bridge; bridge / user ${times(ratio(throughput.bridge ?? NaN, throughput.user ?? NaN))}`],
    )
  }
  for (const r of scaleResults) {
    rows.push(
      [`scale, ${r.network} mode: ${r.nvm} VMs ready`, secs(r.readyMs), `mem ${r.options.mem} MiB, tbSize ${r.options.tbSize} MiB; stop ${secs(r.stopMs)}`],
      [`  machine memory used, peak`, `${(r.machinePeakUsedMiB / 1024).toFixed(1)} GiB`, `+${(r.machinePeakDeltaMiB / 1024).toFixed(1)} GiB over ${(r.machineUsedBeforeMiB / 1024).toFixed(1)} GiB before`],
      [`  QEMU RSS total / per VM`, `${(r.sumRssMiB / 1024).toFixed(2)} GiB`, `${r.rssPerVmMiB} MiB per VM; PSS total ${(r.sumPssMiB / 1024).toFixed(2)} GiB (${r.pssPerVmMiB} MiB per VM)`],
      [`  ping over net 1, sampled pairs`, `${r.reachable}/${r.pairs}`, `${secs(r.pingMs)}${r.failedPairs.length ? `; failed: ${r.failedPairs.slice(0, 5).join(', ')}` : ''}`],
    )
  }
  for (const r of xcResults) {
    rows.push([`xc start, ${r.network} mode: ${r.nvm} VMs`, secs(r.startMs), `xc status: ${r.alive}/${r.nvm} alive; xc rsh to the last VM ${r.answered ? 'answered' : 'FAILED'}; xc stop ${secs(r.stopMs)}`])
  }

  const loadAfter = loadavg()
  console.log('')
  console.log(table(rows))
  console.log('')
  console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}; other VMs on this host make these numbers noisy`)

  const results = {
    date: new Date().toISOString(),
    mode: { quick, scale, onlyScale },
    host: { cpus: availableParallelism(), accel, qemu: qemuVersion, node: process.version, loadBefore, loadAfter },
    image: { kernelVersion: image.kernelVersion, kernelBoot: image.kernelBoot, initrdBytes: image.initrdBytes },
    stock: { medianMs: round(stockMs, 0), runsMs: stockRuns.map((x) => round(x, 0)), note: 'bare QEMU, bzImage as packaged, gzip initramfs with signed virtio modules, q35 + qboot, -cpu max (the harness before tuning), no boot tuning, until xc-phase: ready' },
    oneVmHarnessOverStock: round(ratio(one?.harnessMs ?? NaN, stockMs), 3),
    series,
    bridge8: { medianMs: round(bridgeMs, 0), runsMs: bridgeRuns.map((r) => round(r.ms, 0)), overUser: round(ratio(bridgeMs, s8?.harnessMs ?? NaN), 3) },
    exec: { command: 'true', warmup: EXEC_WARMUP, user: execUser ?? null, bridge: execBridge ?? null },
    throughputMbps: { ...throughput, bridgeOverUser: round(ratio(throughput.bridge ?? NaN, throughput.user ?? NaN), 3) },
    phases: phases ?? null,
    idle: idleRes ?? null,
    scale: scaleResults,
    xcStart: xcResults,
    errors,
  }
  writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n')
  log(`results written to ${RESULTS}`)
  if (errors.length) {
    console.log(`\n${errors.length} part(s) failed:\n${errors.map((e) => `  - ${e}`).join('\n')}`)
    process.exitCode = 1
  }
}

try {
  await main()
} catch (e) {
  console.error(e)
  process.exitCode = 1
} finally {
  await stopEverything()
}
