// npm run bench [-- --quick]
//
// What the harness costs over bare QEMU, in one run:
//   1. cluster-ready time (nvm 4 + 2 routers, user mode) vs the floor: the same
//      6 VMs as bare QEMU processes, same kernel, base initrd and machine args;
//   2. the same cluster in bridge mode beside user mode;
//   3. exec('true') latency on one VM, user and bridge mode;
//   4. boot phases of one VM from its console;
//   5. idle RSS and CPU per VM of a running cluster;
//   6. TCP throughput VM to VM over net 1 (iperf3), user against bridge mode.
// Boots alternate floor, user, bridge (twice; once with --quick) and the medians
// are reported. The benchmark reports; it never fails on a number. Everything it
// starts is stopped in finally blocks (and on Ctrl-C).
import { writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
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
import { QEMU, resolveAccel } from '../src/qemu/accel.ts'
import { ConsoleWatcher, parsePhases, PHASES, type Phase } from './console.ts'
import { bootFloor, liveFloors, type FloorResult } from './floor.ts'
import { idleCost, type IdleSample } from './procstat.ts'
import { mean, median, msec, percentile, ratio, round, secs, table, times } from './stats.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
const RESULTS = join(HERE, 'results.json')

const quick = process.argv.includes('--quick')
const REPS = quick ? 1 : 2
const CLUSTER: ClusterOptions = { nvm: 4, nrouters: 2, name: 'bench' }
const EXEC_WARMUP = 10
const EXEC_CALLS = 200
const IDLE_WINDOW_MS = 10_000
const FLOOR_TIMEOUT_MS = 180_000

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

/** Boot the bench cluster, time it to ready; with `extras`, measure exec (and idle in user mode) on it. */
async function harnessRun(network: 'user' | 'bridge', extras: boolean): Promise<HarnessRun> {
  let c: RunningCluster | undefined
  const run: HarnessRun = { ms: NaN }
  const t0 = performance.now()
  try {
    c = await startCluster({ ...CLUSTER, network })
    run.ms = performance.now() - t0
    live.add(c)
    log(`  ${network}: cluster of ${c.vms.length} VMs ready in ${secs(run.ms)}`)
    if (extras) {
      const cl = c
      run.exec = await part(`exec latency (${network})`, async () => {
        log(`  ${network}: exec('true') x ${EXEC_CALLS} on ${cl.vm(1).name} (after ${EXEC_WARMUP} warm-up calls) ...`)
        const r = await execLatency(cl.vm(1))
        log(`  ${network}: exec median ${msec(r.medianMs)}, p95 ${msec(r.p95Ms)}`)
        return r
      })
      if (network === 'user') {
        run.idle = await part('idle cost', async () => {
          log(`  ${network}: idle cost over ${IDLE_WINDOW_MS / 1000} s ...`)
          const r = await idle(cl)
          log(`  ${network}: idle per node VM: RSS ${r.nodes.rssMiB} MiB, CPU ${r.nodes.cpuPct} % of a core`)
          return r
        })
      }
    }
  } finally {
    if (c) {
      run.stopMs = await stopCluster(c)
      log(`  ${network}: cluster stopped in ${secs(run.stopMs)}`)
    }
  }
  return run
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

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  log(`xcluster bench${quick ? ' (--quick: one repetition)' : ` (${REPS} repetitions)`}`)
  const spec = validateOptions(CLUSTER)
  const image = loadImage()
  const accel = await resolveAccel('auto')
  const qemuVersion = (await execa(QEMU, ['--version'], { reject: false })).stdout.split('\n')[0]
  const loadBefore = loadavg()
  log(`accel ${accel}, ${availableParallelism()} CPUs, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, kernel ${image.kernelVersion}`)
  // The floor's VMs: the bench cluster's own plan (same mem, smp, append, MACs); net 0 only.
  const floorVms = planCluster(spec, { clusterId: 'floor', telnetBase: 0, sshBase: 0, mcastPortBase: 0, mcastGroupPrefix: '239.255.0' }).vms

  log('boot phases: one VM alone (user mode); also warms caches ...')
  const phases = await part('boot phases', async () => {
    const r = await phaseRun()
    log(`  ${r.vm}: spawn->init ${msec(r.spawnToInitMs, 0)}, init->network ${msec(r.initToNetworkMs, 0)}, network->telnet ${msec(r.networkToTelnetMs, 0)}, telnet->ready ${msec(r.telnetToReadyMs, 0)}, spawn->telnet-ready ${msec(r.spawnToTelnetReadyMs, 0)}`)
    return r
  })

  const floorRuns: FloorResult[] = []
  const userRuns: HarnessRun[] = []
  const bridgeRuns: HarnessRun[] = []
  for (let rep = 0; rep < REPS; rep++) {
    const extras = rep === 0
    log(`repetition ${rep + 1}/${REPS}: floor (${floorVms.length} bare QEMUs) ...`)
    const f = await part(`floor #${rep + 1}`, () =>
      bootFloor({ vms: floorVms, accel, kernel: image.kernel, initrd: image.initrd, timeoutMs: FLOOR_TIMEOUT_MS }),
    )
    if (f) {
      floorRuns.push(f)
      log(`  floor: all ${f.vms.length} consoles show 'xc-phase: ready' after ${secs(f.ms)}`)
    }
    log(`repetition ${rep + 1}/${REPS}: harness, user mode ...`)
    const u = await part(`harness user #${rep + 1}`, () => harnessRun('user', extras))
    if (u && Number.isFinite(u.ms)) userRuns.push(u)
    log(`repetition ${rep + 1}/${REPS}: harness, bridge mode ...`)
    const b = await part(`harness bridge #${rep + 1}`, () => harnessRun('bridge', extras))
    if (b && Number.isFinite(b.ms)) bridgeRuns.push(b)
  }

  // TCP throughput VM to VM over net 1 (iperf3), user mode (multicast socket net)
  // against bridge mode (tap and bridge). Each mode's 2-VM cluster has the tools.
  const throughput: Record<string, number> = {}
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

  // ---------------------------------------------------------------- report
  const floorMs = median(floorRuns.map((r) => r.ms))
  const userMs = median(userRuns.map((r) => r.ms))
  const bridgeMs = median(bridgeRuns.map((r) => r.ms))
  const execUser = userRuns.find((r) => r.exec)?.exec
  const execBridge = bridgeRuns.find((r) => r.exec)?.exec
  const idleRes = userRuns.find((r) => r.idle)?.idle
  const list = (xs: number[]): string => (xs.length ? `runs ${xs.map((x) => secs(x)).join(', ')}` : 'no run')
  const nVms = floorVms.length

  const rows: string[][] = [
    ['measure', 'value', 'detail'],
    [`cluster ready, user mode (${nVms} VMs)`, secs(userMs), `median; ${list(userRuns.map((r) => r.ms))}`],
    [`floor: ${nVms} bare QEMUs to 'xc-phase: ready'`, secs(floorMs), `median; ${list(floorRuns.map((r) => r.ms))}`],
    ['harness / floor', times(ratio(userMs, floorMs)), `+${secs(userMs - floorMs)} over the floor`],
    [`cluster ready, bridge mode (${nVms} VMs)`, secs(bridgeMs), `median; ${list(bridgeRuns.map((r) => r.ms))}`],
    ['bridge / user', times(ratio(bridgeMs, userMs)), `bridge / floor ${times(ratio(bridgeMs, floorMs))}`],
    [`exec('true') user, median / p95`, execUser ? `${msec(execUser.medianMs)} / ${msec(execUser.p95Ms)}` : 'n/a', execUser ? `n=${execUser.n}, min ${msec(execUser.minMs)}, max ${msec(execUser.maxMs)}` : ''],
    [`exec('true') bridge, median / p95`, execBridge ? `${msec(execBridge.medianMs)} / ${msec(execBridge.p95Ms)}` : 'n/a', execBridge ? `n=${execBridge.n}, min ${msec(execBridge.minMs)}, max ${msec(execBridge.maxMs)}` : ''],
  ]
  if (phases) {
    const up = phases.uptimes
    rows.push(
      [`boot phases of ${phases.vm} alone (user mode):`, '', ''],
      ['  spawn -> init (kernel)', msec(phases.spawnToInitMs, 0), `host-seen; guest uptime at init ${up.init?.toFixed(2) ?? '?'} s`],
      ['  init -> network', msec(phases.initToNetworkMs, 0), 'guest uptime (modules, eth0, addresses)'],
      ['  network -> telnet', msec(phases.networkToTelnetMs, 0), 'guest uptime (overlays, telnetd)'],
      ['  telnet -> ready', msec(phases.telnetToReadyMs, 0), 'guest uptime (init.d rc scripts)'],
      ['  spawn -> telnet-ready (host)', msec(phases.spawnToTelnetReadyMs, 0), `startCluster total ${msec(phases.startClusterMs, 0)}`],
      ['  telnet line -> shell answers', msec(phases.telnetLineToShellMs, 0), 'host: console shows telnetd up -> harness channel open'],
    )
  }
  if (idleRes) {
    rows.push(
      [`idle RSS per VM (mean of ${idleRes.nodes.n} nodes)`, `${idleRes.nodes.rssMiB} MiB`, `all ${idleRes.perVm.length} VMs: ${idleRes.all.rssMiB} MiB; -m ${spec.mem}`],
      [`idle CPU per VM (mean of nodes, ${IDLE_WINDOW_MS / 1000} s)`, `${idleRes.nodes.cpuPct.toFixed(2)} %`, `of one core; all ${idleRes.perVm.length} VMs: ${idleRes.all.cpuPct.toFixed(2)} %`],
    )
  }
  rows.push(
    ['TCP throughput over net 1, user mode', throughput.user ? `${throughput.user.toFixed(0)} Mbit/s` : 'n/a', 'iperf3 -t 5, vm-001 -> vm-002, multicast socket net'],
    ['TCP throughput over net 1, bridge mode', throughput.bridge ? `${throughput.bridge.toFixed(0)} Mbit/s` : 'n/a', 'tap and Linux bridge'],
    ['bridge / user throughput', times(ratio(throughput.bridge ?? NaN, throughput.user ?? NaN)), 'the seed says bridge is much faster'],
  )
  const stopU = median(userRuns.map((r) => r.stopMs ?? NaN).filter(Number.isFinite))
  const stopB = median(bridgeRuns.map((r) => r.stopMs ?? NaN).filter(Number.isFinite))
  rows.push(['cluster stop, user / bridge', `${secs(stopU)} / ${secs(stopB)}`, 'median'])

  const loadAfter = loadavg()
  console.log('')
  console.log(table(rows))
  console.log('')
  console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}; other VMs on this host make these numbers noisy`)

  const results = {
    date: new Date().toISOString(),
    quick,
    repetitions: REPS,
    host: { cpus: availableParallelism(), accel, qemu: qemuVersion, node: process.version, loadBefore, loadAfter },
    image: { kernelVersion: image.kernelVersion, initrdBytes: image.initrdBytes },
    cluster: { ...CLUSTER, vms: spec.vms, mem: spec.mem, smp: spec.smp },
    boot: {
      floor: { medianMs: round(floorMs, 0), runsMs: floorRuns.map((r) => round(r.ms, 0)), note: 'bare QEMU, base initrd, net 0 only (restricted slirp), until every console shows xc-phase: ready', runs: floorRuns.map((r) => r.vms.map((v) => ({ ...v, readyMs: round(v.readyMs, 0) }))) },
      user: { medianMs: round(userMs, 0), runsMs: userRuns.map((r) => round(r.ms, 0)) },
      bridge: { medianMs: round(bridgeMs, 0), runsMs: bridgeRuns.map((r) => round(r.ms, 0)) },
      harnessOverFloor: round(ratio(userMs, floorMs), 3),
      bridgeOverUser: round(ratio(bridgeMs, userMs), 3),
      bridgeOverFloor: round(ratio(bridgeMs, floorMs), 3),
    },
    stop: { userMs: userRuns.map((r) => round(r.stopMs ?? NaN, 0)), bridgeMs: bridgeRuns.map((r) => round(r.stopMs ?? NaN, 0)) },
    exec: { command: 'true', warmup: EXEC_WARMUP, user: execUser ?? null, bridge: execBridge ?? null },
    throughputMbps: { ...throughput, bridgeOverUser: round(ratio(throughput.bridge ?? NaN, throughput.user ?? NaN), 3) },
    phases: phases ?? null,
    idle: idleRes ?? null,
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
