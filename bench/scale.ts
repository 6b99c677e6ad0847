// How far one machine goes: SCALE_VMS VMs started by the library (time to ready,
// memory, net 1 reachability), and XC_VMS VMs started by `xc start` as a user would.
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { execa } from 'execa'
import { startCluster, type ClusterOptions, type RunningCluster } from '../src/index.ts'
import { log, SCALE_OPTIONS, SCALE_PAIRS, SCALE_VMS, XC, XC_VMS } from './config.ts'
import { rssKiB } from './procstat.ts'
import { live, stopCluster } from './session.ts'
import { round, secs } from './stats.ts'

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

export interface ScaleResult {
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

/** Start SCALE_VMS VMs with SCALE_OPTIONS; time to ready, peak machine memory, RSS and PSS, ping between sampled pairs. */
export async function scaleRun(network: 'user' | 'bridge'): Promise<ScaleResult> {
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

export interface XcStartResult {
  network: 'user' | 'bridge'
  nvm: number
  startMs: number
  alive: number
  answered: number
  stopMs: number
}

/** `xc start` of XC_VMS VMs (detached, as a user runs it), `xc status`, `xc rsh` on the last VM, `xc stop`. */
export async function xcStartRun(network: 'user' | 'bridge'): Promise<XcStartResult> {
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
