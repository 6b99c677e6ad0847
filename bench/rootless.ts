// Rootless bridge mode against root bridge mode, in the same run: an 8-VM
// cluster's time to ready, exec('true') latency on it, and iperf3 throughput
// VM to VM over net 1. Runs alternate (root, rootless, root, ...). Both run
// as this process (root); rootless: true takes the path a user without
// CAP_NET_ADMIN takes (a user namespace of the cluster's own, nsenter by pid).
import { performance } from 'node:perf_hooks'
import { startCluster } from '../src/index.ts'
import { log, quick } from './config.ts'
import { execLatency, iperf3Mbps, type ExecStats } from './harness.ts'
import { live, stopCluster } from './session.ts'
import { median, msec, ratio, round, secs, times } from './stats.ts'

export interface RootlessResult {
  vms: number
  readyMs: { root: number[]; rootless: number[] }
  exec: { root: ExecStats[]; rootless: ExecStats[] }
  mbps: { root: number[]; rootless: number[] }
  /** rootless / root, medians: ready time and exec latency (lower is better), throughput (higher is better). */
  readyRatio: number
  execRatio: number
  throughputRatio: number
}

const MODES = ['root', 'rootless'] as const

export async function rootlessRun(): Promise<RootlessResult> {
  const reps = quick ? 2 : 4
  const vms = 8
  const r: RootlessResult = { vms, readyMs: { root: [], rootless: [] }, exec: { root: [], rootless: [] }, mbps: { root: [], rootless: [] }, readyRatio: NaN, execRatio: NaN, throughputRatio: NaN }
  for (let rep = 0; rep < reps; rep++) {
    for (const mode of MODES) {
      const t0 = performance.now()
      const c = await startCluster({ name: `bench-${mode}`, network: 'bridge', rootless: mode === 'rootless', nvm: vms, nrouters: 0 })
      const ms = performance.now() - t0
      live.add(c)
      try {
        if ((c.state.state.rootless === true) !== (mode === 'rootless')) throw new Error(`the ${mode} cluster did not run ${mode}`)
        r.readyMs[mode].push(round(ms, 0))
        const e = await execLatency(c.vm(1))
        r.exec[mode].push(e)
        log(`  ${mode} #${rep + 1}: ${vms} VMs ready in ${secs(ms)}, exec('true') median ${msec(e.medianMs)}`)
      } finally {
        await stopCluster(c)
      }
    }
  }
  const tpReps = quick ? 1 : 2
  for (let rep = 0; rep < tpReps; rep++) {
    for (const mode of MODES) {
      const c = await startCluster({ name: `bench-tp-${mode}`, network: 'bridge', rootless: mode === 'rootless', nvm: 2, nrouters: 0, tools: true, stdAddresses: true })
      live.add(c)
      try {
        const mbps = await iperf3Mbps(c.vm(2), c.vm(1), '192.168.1.2')
        r.mbps[mode].push(round(mbps, 0))
        log(`  ${mode} #${rep + 1}: iperf3 vm-001 -> vm-002 over net 1: ${mbps.toFixed(0)} Mbit/s`)
      } finally {
        await stopCluster(c)
      }
    }
  }
  r.readyRatio = round(ratio(median(r.readyMs.rootless), median(r.readyMs.root)), 3)
  r.execRatio = round(ratio(median(r.exec.rootless.map((e) => e.medianMs)), median(r.exec.root.map((e) => e.medianMs))), 3)
  r.throughputRatio = round(ratio(median(r.mbps.rootless), median(r.mbps.root)), 3)
  log(`rootless / root: ready ${times(r.readyRatio)}, exec ${times(r.execRatio)}, throughput ${times(r.throughputRatio)} (target: each within 10 %)`)
  return r
}
