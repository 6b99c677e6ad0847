// Runs of the harness itself: a cluster from startCluster() to ready, and on it
// exec('true') latency and the idle cost (RSS, CPU) of its VMs.
import { performance } from 'node:perf_hooks'
import { startCluster, type RunningCluster, type RunningVm } from '../src/index.ts'
import { EXEC_CALLS, EXEC_WARMUP, IDLE_WINDOW_MS, log } from './config.ts'
import { idleCost, type IdleSample } from './procstat.ts'
import { live, part, stopCluster } from './session.ts'
import { mean, median, msec, percentile, round, secs } from './stats.ts'

export interface ExecStats {
  n: number
  medianMs: number
  p95Ms: number
  meanMs: number
  minMs: number
  maxMs: number
}

/** Time EXEC_CALLS calls of exec('true') on `vm`, after EXEC_WARMUP untimed ones. */
export async function execLatency(vm: RunningVm): Promise<ExecStats> {
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

/** iperf3 for 5 s from `client` to `server` (at `address`), as Mbit/s received; both need the tools disk. */
export async function iperf3Mbps(server: RunningVm, client: RunningVm, address: string): Promise<number> {
  await server.run('iperf3 -s -D -1')
  const out = await client.run(`iperf3 -c ${address} -t 5 -J`, { timeout: 60_000 })
  return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6
}

export interface IdleResult {
  windowMs: number
  perVm: Array<{ vm: string; pid: number; rssMiB: number; cpuPct: number }>
  /** Means over the 4 node VMs (nvm 4). */
  nodes: { n: number; rssMiB: number; cpuPct: number }
  /** Means over every VM of the cluster (nodes and routers). */
  all: { n: number; rssMiB: number; cpuPct: number }
}

/** RSS and CPU of every VM of `c` over IDLE_WINDOW_MS, while nothing runs on it. */
export async function idle(c: RunningCluster): Promise<IdleResult> {
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

export interface HarnessRun {
  ms: number
  stopMs?: number
  exec?: ExecStats
  idle?: IdleResult
}

/** Boot n VMs (nodes only), time startCluster to ready; with `extras`, measure exec (and idle in user mode) on it. */
export async function harnessRun(n: number, network: 'user' | 'bridge', extras: boolean, kernel?: string): Promise<HarnessRun> {
  let c: RunningCluster | undefined
  const run: HarnessRun = { ms: NaN }
  const t0 = performance.now()
  try {
    c = await startCluster({ nvm: n, nrouters: 0, name: `bench-${n}`, network, ...(kernel ? { kernel } : {}) })
    run.ms = performance.now() - t0
    live.add(c)
    log(`  harness ${network}${kernel ? `, kernel ${kernel}` : ''}: ${n} VM(s) ready in ${secs(run.ms)}`)
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
