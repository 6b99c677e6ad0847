// Clusters from snapshots: for 1, 8 and 32 VMs (and SCALE_VMS with --scale),
// a cold start against a start from the snapshot and against restore() on
// it, in the same run; the first start with snapshot: true (cold, then the
// save) is timed too. Host memory per VM (RSS, PSS) cold and restored. Each
// size in a home of its own (the image linked in), removed afterwards.
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { startCluster, xclusterHome, type ClusterOptions, type RunningCluster } from '../src/index.ts'
import { imagePaths } from '../src/host/home.ts'
import { log, quick, SCALE_OPTIONS } from './config.ts'
import { rssKiB } from './procstat.ts'
import { live, stopCluster } from './session.ts'
import { median, ratio, round, secs, times } from './stats.ts'

export interface SnapshotSize {
  nvm: number
  coldMs: number[]
  firstSaveMs: number[]
  fromSnapshotMs: number[]
  restoreMs: number[]
  snapshotMiB: number
  /** Per VM, MiB: cold boot, and restored from the snapshot. */
  rssCold: number
  rssRestored: number
  pssCold: number
  pssRestored: number
  fromSnapshotOverCold: number
  restoreOverCold: number
}

function pssKiB(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN)
  } catch {
    return NaN
  }
}

const perVm = (c: RunningCluster, f: (pid: number) => number | undefined): number =>
  round(median(c.vms.map((v) => (f(v.process.record.pid) ?? NaN) / 1024)), 0)

async function timed(opts: ClusterOptions): Promise<{ c: RunningCluster; ms: number }> {
  const t0 = performance.now()
  const c = await startCluster(opts)
  live.add(c)
  return { c, ms: performance.now() - t0 }
}

export async function snapshotSizeRun(nvm: number, extra: Partial<ClusterOptions> = {}, reps = quick ? 1 : 2): Promise<SnapshotSize> {
  const home = mkdtempSync(join(tmpdir(), 'xc-bench-snap-'))
  symlinkSync(imagePaths(xclusterHome()).dir, join(home, 'image'))
  const base: ClusterOptions = { home, name: `bench-snap-${nvm}`, nvm, nrouters: 0, ...extra }
  const r: SnapshotSize = { nvm, coldMs: [], firstSaveMs: [], fromSnapshotMs: [], restoreMs: [], snapshotMiB: NaN, rssCold: NaN, rssRestored: NaN, pssCold: NaN, pssRestored: NaN, fromSnapshotOverCold: NaN, restoreOverCold: NaN }
  try {
    for (let rep = 0; rep < reps; rep++) {
      const cold = await timed(base)
      r.coldMs.push(round(cold.ms, 0))
      if (rep === 0) {
        r.rssCold = perVm(cold.c, rssKiB)
        r.pssCold = perVm(cold.c, pssKiB)
      }
      await stopCluster(cold.c)
      log(`  ${nvm} VMs, run ${rep + 1}: cold ${secs(cold.ms)}`)
      if (rep === 0) {
        const first = await timed({ ...base, snapshot: true })
        r.firstSaveMs.push(round(first.ms, 0))
        r.snapshotMiB = round(first.c.vms.length ? Number(readFileSync(join(first.c.snapshot!.dir!, 'meta.json'), 'utf8').match(/"bytes": (\d+)/)?.[1]) / 1048576 : NaN, 0)
        await stopCluster(first.c)
        log(`  ${nvm} VMs: first start with snapshot: true (cold, then the save of ${r.snapshotMiB} MiB) ${secs(first.ms)}`)
      }
      const snap = await timed({ ...base, snapshot: true })
      if (!snap.c.snapshot?.restored) throw new Error(`the ${nvm}-VM start did not restore from its snapshot (${snap.c.snapshot?.fellBack ?? 'no snapshot'})`)
      r.fromSnapshotMs.push(round(snap.ms, 0))
      const t0 = performance.now()
      await snap.c.restore()
      const restoreMs = performance.now() - t0
      r.restoreMs.push(round(restoreMs, 0))
      if (rep === 0) {
        r.rssRestored = perVm(snap.c, rssKiB)
        r.pssRestored = perVm(snap.c, pssKiB)
      }
      await stopCluster(snap.c)
      log(`  ${nvm} VMs, run ${rep + 1}: from the snapshot ${secs(snap.ms)}, restore() ${secs(restoreMs)}`)
    }
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
  r.fromSnapshotOverCold = round(ratio(median(r.fromSnapshotMs), median(r.coldMs)), 3)
  r.restoreOverCold = round(ratio(median(r.restoreMs), median(r.coldMs)), 3)
  log(`  ${nvm} VMs: from the snapshot / cold ${times(r.fromSnapshotOverCold)}, restore() / cold ${times(r.restoreOverCold)}`)
  return r
}

/** The sizes of the run: 1, 8 and 32 VMs (32 not with --quick); `scaleVms` with the scale options. */
export async function snapshotRun(scaleVms?: number): Promise<SnapshotSize[]> {
  const out: SnapshotSize[] = []
  for (const n of quick ? [1, 8] : [1, 8, 32]) {
    log(`snapshots: ${n} VM(s) ...`)
    out.push(await snapshotSizeRun(n))
  }
  if (scaleVms) {
    log(`snapshots: ${scaleVms} VMs (mem ${SCALE_OPTIONS.mem}, tbSize ${SCALE_OPTIONS.tbSize}) ...`)
    out.push(await snapshotSizeRun(scaleVms, { mem: SCALE_OPTIONS.mem, tbSize: SCALE_OPTIONS.tbSize }, 1))
  }
  return out
}
