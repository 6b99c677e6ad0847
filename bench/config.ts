// The benchmark's command-line flags, sizes and constants, and its timestamped log().
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import type { ClusterOptions } from '../src/index.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
export const RESULTS = join(HERE, 'results.json')

const argv = process.argv.slice(2)
export const quick = argv.includes('--quick')
export const onlyScale = argv.includes('--only-scale')
/** Only the snapshot part (with --scale also its SCALE_VMS size). */
export const onlySnapshots = argv.includes('--only-snapshots')
/** Only the rootless / root bridge-mode comparison. */
export const onlyRootless = argv.includes('--only-rootless')
/** Only private user-mode nets against shared ones (with --scale also SCALE_VMS VMs each). */
export const onlyUserNets = argv.includes('--only-user-nets')
/** Only ssh hosts against simulated hosts. */
export const onlySsh = argv.includes('--only-ssh')
/** Only the harness's kernel against Debian's (with --kernel-cold also a cold build in a fresh home). */
export const onlyKernel = argv.includes('--only-kernel')
export const kernelCold = argv.includes('--kernel-cold')
export const scale = onlyScale || !(quick || argv.includes('--no-scale'))
/** Cluster sizes of the ready-time series, and the runs of each. */
export const SERIES: Array<{ n: number; reps: number }> = quick
  ? [{ n: 1, reps: 2 }, { n: 8, reps: 1 }]
  : [{ n: 1, reps: 3 }, { n: 8, reps: 2 }, { n: 32, reps: 1 }]
/** VMs of each scale run, and the sampled pairs that ping each other over net 1. */
export const SCALE_VMS = Number(process.env.XC_BENCH_SCALE ?? 100)
export const SCALE_PAIRS = 100
/** VMs of each `xc start` run, and the CLI it runs. */
export const XC_VMS = Number(process.env.XC_BENCH_XC_VMS ?? 50)
export const XC = join(HERE, '..', 'bin', 'xc.js')
export const SCALE_OPTIONS: Partial<ClusterOptions> = { mem: 80, tbSize: 24, stdAddresses: true }
/** exec('true') calls before and in the latency measurement. */
export const EXEC_WARMUP = 10
export const EXEC_CALLS = 200
export const IDLE_WINDOW_MS = quick ? 10_000 : 30_000
export const FLOOR_TIMEOUT_MS = 300_000

const T0 = performance.now()
/** Print `msg` with the seconds since the benchmark started. */
export function log(msg: string): void {
  console.log(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(6)} s] ${msg}`)
}
