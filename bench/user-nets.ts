// Private user-mode nets (the default: the cluster's QEMUs in a network
// namespace of its own, reached through the relay) against shared ones (the
// host's loopback, as xcluster did), in the same run: an 8-VM cluster's time
// to ready and exec('true') latency, iperf3 VM to VM over net 1 (a multicast
// socket net either way), and with --scale SCALE_VMS VMs ready (mem 80, tbSize
// 24). Runs alternate (private, shared, private, ...).
import { performance } from 'node:perf_hooks'
import { startCluster, type ClusterOptions } from '../src/index.ts'
import { log, quick, SCALE_OPTIONS } from './config.ts'
import { execLatency, iperf3Mbps, type ExecStats } from './harness.ts'
import { live, stopCluster } from './session.ts'
import { median, msec, ratio, round, secs, times } from './stats.ts'

const MODES = ['private', 'shared'] as const
type Mode = (typeof MODES)[number]

export interface UserNetsResult {
  vms: number
  readyMs: Record<Mode, number[]>
  exec: Record<Mode, ExecStats[]>
  mbps: Record<Mode, number[]>
  /** With --scale: the big cluster's time to ready, per mode. */
  scale?: { vms: number; readyMs: Record<Mode, number[]> }
  /** private / shared, medians: ready and exec (lower is better), throughput (higher is better), the big cluster's ready. */
  readyRatio: number
  execRatio: number
  throughputRatio: number
  scaleRatio?: number
}

/** Start `opts` with userNets `mode`; its time to ready (ms), the cluster checked to run the way asked. */
async function start(mode: Mode, opts: ClusterOptions): Promise<{ ms: number; c: Awaited<ReturnType<typeof startCluster>> }> {
  const t0 = performance.now()
  const c = await startCluster({ ...opts, userNets: mode })
  const ms = performance.now() - t0
  live.add(c)
  if (c.state.state.userNets !== mode) {
    await stopCluster(c)
    throw new Error(`the ${mode} cluster ran with ${c.state.state.userNets} nets`)
  }
  return { ms, c }
}

export async function userNetsRun(scaleVms?: number): Promise<UserNetsResult> {
  const reps = quick ? 2 : 4
  const vms = 8
  const r: UserNetsResult = { vms, readyMs: { private: [], shared: [] }, exec: { private: [], shared: [] }, mbps: { private: [], shared: [] }, readyRatio: NaN, execRatio: NaN, throughputRatio: NaN }
  for (let rep = 0; rep < reps; rep++) {
    for (const mode of MODES) {
      const { ms, c } = await start(mode, { name: `bench-un-${mode}`, nvm: vms, nrouters: 0 })
      try {
        r.readyMs[mode].push(round(ms, 0))
        const e = await execLatency(c.vm(1))
        r.exec[mode].push(e)
        log(`  ${mode} #${rep + 1}: ${vms} VMs ready in ${secs(ms)}, exec('true') median ${msec(e.medianMs)}`)
      } finally {
        await stopCluster(c)
      }
    }
  }
  for (let rep = 0; rep < (quick ? 1 : 2); rep++) {
    for (const mode of MODES) {
      const { c } = await start(mode, { name: `bench-un-tp-${mode}`, nvm: 2, nrouters: 0, tools: true, stdAddresses: true })
      try {
        const mbps = await iperf3Mbps(c.vm(2), c.vm(1), '192.168.1.2')
        r.mbps[mode].push(round(mbps, 0))
        log(`  ${mode} #${rep + 1}: iperf3 vm-001 -> vm-002 over net 1: ${mbps.toFixed(0)} Mbit/s`)
      } finally {
        await stopCluster(c)
      }
    }
  }
  if (scaleVms) {
    r.scale = { vms: scaleVms, readyMs: { private: [], shared: [] } }
    for (const mode of MODES) {
      const { ms, c } = await start(mode, { name: `bench-un-scale-${mode}`, ...SCALE_OPTIONS, nvm: scaleVms, nrouters: 0, bootTimeout: 600_000 })
      try {
        r.scale.readyMs[mode].push(round(ms, 0))
        // Net 1 works at that size too: vm-001 reaches the last VM.
        if (!(await c.vm(1).ping(`192.168.1.${scaleVms}`, 3))) throw new Error(`${mode}: vm-001 does not reach vm-${scaleVms} over net 1`)
        log(`  ${mode}: ${scaleVms} VMs ready in ${secs(ms)}; vm-001 reaches vm-${String(scaleVms).padStart(3, '0')} over net 1`)
      } finally {
        await stopCluster(c)
      }
    }
    r.scaleRatio = round(ratio(median(r.scale.readyMs.private), median(r.scale.readyMs.shared)), 3)
  }
  r.readyRatio = round(ratio(median(r.readyMs.private), median(r.readyMs.shared)), 3)
  r.execRatio = round(ratio(median(r.exec.private.map((e) => e.medianMs)), median(r.exec.shared.map((e) => e.medianMs))), 3)
  r.throughputRatio = round(ratio(median(r.mbps.private), median(r.mbps.shared)), 3)
  log(`private / shared user-mode nets: ready ${times(r.readyRatio)}, exec ${times(r.execRatio)}, throughput ${times(r.throughputRatio)}${r.scaleRatio ? `, ${scaleVms} VMs ready ${times(r.scaleRatio)}` : ''}`)
  return r
}
