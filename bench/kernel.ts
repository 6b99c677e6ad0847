// The harness's kernel (built from Debian's linux-source-6.1 with its own
// config) against Debian's cloud kernel as packaged, in the same run: 1 and 8
// VMs ready from startCluster() with each, against the stock floor (as many
// bare QEMUs booting Debian's bzImage as packaged, no tuning, -cpu max) of the
// same size; runs alternate (stock, built, Debian). Then the boot phases of
// one VM with each kernel, and the build's own time: cached (a second setup),
// as recorded at the cold build, and with --kernel-cold a cold build in a
// fresh home (minutes: the source unpacked, configured, made).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { planCluster, validateOptions, xclusterHome } from '../src/index.ts'
import { imageFor } from '../src/cluster/kernel.ts'
import { DEBIAN_KERNEL, DEFAULT_KERNEL, kernelPaths } from '../src/host/home.ts'
import { buildKernel } from '../src/kernel/build-kernel.ts'
import { FLOOR_TIMEOUT_MS, kernelCold, log, quick } from './config.ts'
import { bootFloor } from './floor.ts'
import { harnessRun } from './harness.ts'
import { phaseRun, type PhaseResult } from './phases.ts'
import { part } from './session.ts'
import { median, ratio, round, secs, times } from './stats.ts'
import { stockInitrd } from './stock.ts'

const KERNELS = [DEFAULT_KERNEL, DEBIAN_KERNEL] as const

export interface KernelSize {
  n: number
  stockMs: number[]
  readyMs: Record<(typeof KERNELS)[number], number[]>
  /** Median ready / median stock floor, per kernel (target for the default: <= 0.5). */
  overStock: Record<(typeof KERNELS)[number], number>
}

export interface KernelResult {
  releases: Record<(typeof KERNELS)[number], string>
  sizes: KernelSize[]
  phases: Record<(typeof KERNELS)[number], PhaseResult[]>
  build: { cachedMs: number; recordedColdS?: number; coldS?: number }
}

/** Boot and build measurements of the harness's kernel against Debian's. */
export async function kernelRun(accel: 'kvm' | 'tcg'): Promise<KernelResult> {
  const home = xclusterHome()
  const images = { [DEFAULT_KERNEL]: await imageFor({ home, kernel: DEFAULT_KERNEL }), [DEBIAN_KERNEL]: await imageFor({ home, kernel: DEBIAN_KERNEL }) }
  const tmp = mkdtempSync(join(tmpdir(), 'xc-bench-kernel-'))
  const r: KernelResult = {
    releases: { [DEFAULT_KERNEL]: images[DEFAULT_KERNEL].kernelVersion, [DEBIAN_KERNEL]: images[DEBIAN_KERNEL].kernelVersion },
    sizes: [],
    phases: { [DEFAULT_KERNEL]: [], [DEBIAN_KERNEL]: [] },
    build: { cachedMs: NaN },
  }
  try {
    const stock = await stockInitrd(tmp, images[DEBIAN_KERNEL])
    const floorVms = (n: number) =>
      planCluster(validateOptions({ nvm: n, nrouters: 0 }), { clusterId: 'floor', telnetBase: 0, sshBase: 0, mcastPortBase: 0, mcastGroupPrefix: '239.255.0' }).vms
    for (const { n, reps } of quick ? [{ n: 1, reps: 2 }, { n: 8, reps: 1 }] : [{ n: 1, reps: 3 }, { n: 8, reps: 2 }]) {
      const size: KernelSize = { n, stockMs: [], readyMs: { [DEFAULT_KERNEL]: [], [DEBIAN_KERNEL]: [] }, overStock: { [DEFAULT_KERNEL]: NaN, [DEBIAN_KERNEL]: NaN } }
      for (let rep = 0; rep < reps; rep++) {
        log(`kernel: ${n} VM(s), run ${rep + 1}/${reps}: stock floor (Debian's bzImage as packaged, ${n} bare QEMUs) ...`)
        const s = await part(`kernel stock ${n} #${rep + 1}`, () =>
          bootFloor({ vms: floorVms(n), accel, kernel: images[DEBIAN_KERNEL].bzImage, initrd: stock, timeoutMs: FLOOR_TIMEOUT_MS, bootTuning: [], cpu: 'max' }),
        )
        if (s) {
          size.stockMs.push(round(s.ms, 0))
          log(`  stock: ${secs(s.ms)}`)
        }
        for (const k of KERNELS) {
          const h = await part(`kernel ${k} ${n} #${rep + 1}`, () => harnessRun(n, 'user', false, k))
          if (h && Number.isFinite(h.ms)) size.readyMs[k].push(round(h.ms, 0))
        }
      }
      for (const k of KERNELS) size.overStock[k] = round(ratio(median(size.readyMs[k]), median(size.stockMs)), 3)
      log(`kernel: ${n} VM(s): ${KERNELS.map((k) => `${k} ${times(size.overStock[k])}`).join(', ')} of the stock floor (${secs(median(size.stockMs))})`)
      r.sizes.push(size)
    }
    for (let rep = 0; rep < (quick ? 1 : 2); rep++) {
      for (const k of KERNELS) {
        const p = await part(`kernel phases ${k} #${rep + 1}`, () => phaseRun(k))
        if (p) {
          r.phases[k].push(p)
          log(`  ${k}: guest uptime at init ${p.uptimes.init?.toFixed(2)} s, spawn->init ${p.spawnToInitMs} ms, init->ready ${round((p.uptimes.ready! - p.uptimes.init!) * 1000, 0)} ms, spawn->telnet-ready ${p.spawnToTelnetReadyMs} ms`)
        }
      }
    }
    const t = performance.now()
    await buildKernel({ home })
    r.build.cachedMs = round(performance.now() - t, 1)
    try {
      const s = (JSON.parse(readFileSync(kernelPaths(home, DEFAULT_KERNEL).meta, 'utf8')) as { seconds?: number }).seconds
      if (typeof s === 'number') r.build.recordedColdS = round(s, 0)
    } catch {
      // no record of the build
    }
    log(`kernel build: cached ${r.build.cachedMs} ms; the cold build of this home took ${r.build.recordedColdS ?? '?'} s`)
    if (kernelCold) {
      const fresh = mkdtempSync(join(tmpdir(), 'xc-bench-kernel-home-'))
      try {
        log('kernel build: cold, in a fresh home (unpack, configure, make) ...')
        const k = await buildKernel({ home: fresh, log: (l) => log(`  ${l}`) })
        r.build.coldS = round(k.seconds, 0)
      } finally {
        rmSync(fresh, { recursive: true, force: true })
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  return r
}

/** The report's rows of a kernel run. */
export function kernelRows(r: KernelResult): string[][] {
  const list = (xs: number[]): string => (xs.length ? xs.map((x) => secs(x)).join(', ') : 'no run')
  const rows: string[][] = [[`kernels: ${DEFAULT_KERNEL} ${r.releases[DEFAULT_KERNEL]} against ${DEBIAN_KERNEL} ${r.releases[DEBIAN_KERNEL]}`, '', '']]
  for (const s of r.sizes) {
    rows.push([`  ${s.n} VM(s): stock floor (Debian's kernel as packaged)`, secs(median(s.stockMs)), `median; ${list(s.stockMs)}`])
    for (const k of KERNELS) rows.push([`  ${s.n} VM(s): ready with ${k} / stock floor`, times(s.overStock[k]), `${secs(median(s.readyMs[k]))}; ${list(s.readyMs[k])}${k === DEFAULT_KERNEL ? '; target <= 0.5' : ''}`])
  }
  for (const k of KERNELS) {
    for (const p of r.phases[k]) {
      const up = p.uptimes
      rows.push([`  phases with ${k}`, `init at ${up.init?.toFixed(2) ?? '?'} s`, `guest uptime; network ${up.network?.toFixed(2)}, telnet ${up.telnet?.toFixed(2)}, ready ${up.ready?.toFixed(2)}; host spawn->init ${p.spawnToInitMs} ms, spawn->telnet-ready ${p.spawnToTelnetReadyMs} ms`])
    }
  }
  rows.push([`  kernel build, cached (a second setup)`, `${r.build.cachedMs} ms`, `cold: ${r.build.coldS !== undefined ? `${r.build.coldS} s measured now (--kernel-cold)` : `${r.build.recordedColdS ?? '?'} s as recorded by this home's build`}`])
  return rows
}
