// Package layers: the first build of a 20-package layer (resolve with apt,
// download, unpack and make the ext4), in a fresh home so that nothing is
// cached (the lists are fetched too, reported apart); a cached reuse of it;
// and the boot of one VM with that layer against the same VM without it
// (tools on in both: packages bring them), runs alternating.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { packageLayer, startCluster, xclusterHome, type ClusterOptions } from '../src/index.ts'
import { log, quick } from './config.ts'
import { live, stopCluster } from './session.ts'
import { median, round, secs } from './stats.ts'

/** 20 packages people in this field put in their VMs. */
export const TWENTY = [
  'frr', 'bird2', 'gobgpd', 'keepalived', 'ipvsadm', 'conntrack', 'lksctp-tools', 'wireguard-tools', 'curl', 'radvd',
  'ndisc6', 'arping', 'traceroute', 'mtr-tiny', 'netcat-openbsd', 'iperf3', 'ethtool', 'hping3', 'dnsmasq-base', 'nmap',
]

export interface PackagesResult {
  names: string[]
  packages: number
  layerMiB: number
  /** apt-get update of the fresh home's private lists. */
  listsMs: number
  /** Resolve, download and build, from the first log line after the lists to the layer. */
  firstBuildMs: number
  phasesMs: Record<string, number>
  cachedMs: number[]
  bootWithMs: number[]
  bootWithoutMs: number[]
  withOverWithout: number
}

/** Time one 1-VM start (user mode, tools on) to ready, then stop it. */
async function boot(opts: ClusterOptions): Promise<number> {
  const t0 = performance.now()
  const c = await startCluster({ nvm: 1, nrouters: 0, tools: true, ...opts })
  const ms = performance.now() - t0
  live.add(c)
  await stopCluster(c)
  return ms
}

export async function packagesRun(): Promise<PackagesResult> {
  const home = mkdtempSync(join(tmpdir(), 'xc-bench-pkgs-'))
  try {
    // First build, in a home with nothing cached: each phase from the layer's own progress lines.
    const marks: Array<[string, number]> = []
    const t0 = performance.now()
    const first = await packageLayer(home, TWENTY, { log: (l) => marks.push([l.replace(/^packages: /, '').split(' ')[0], performance.now()]) })
    const end = performance.now()
    const at = (word: string): number => marks.find(([w]) => w === word)?.[1] ?? NaN
    const listsMs = at('resolving') - t0
    const phasesMs = {
      resolve: round(at('downloading') - at('resolving'), 0),
      download: round(at('building') - at('downloading'), 0),
      build: round(at('layer') - at('building'), 0),
    }
    const firstBuildMs = end - at('resolving')
    log(`  first build of ${TWENTY.length} packages (${first.manifest.packages.length} with dependencies): lists ${secs(listsMs)}, then ${secs(firstBuildMs)} (resolve ${secs(phasesMs.resolve)}, download ${secs(phasesMs.download)}, build ${secs(phasesMs.build)})`)
    const cachedMs: number[] = []
    for (let i = 0; i < 5; i++) {
      const t = performance.now()
      const again = await packageLayer(home, TWENTY)
      cachedMs.push(performance.now() - t)
      if (!again.cached || again.path !== first.path) throw new Error('the second request of the same set was not served from the cache')
    }
    log(`  cached reuse: median ${secs(median(cachedMs))} of ${cachedMs.length}`)

    // Boots use the default home (its image); its layer of the same set is built (or found) before timing.
    await packageLayer(xclusterHome(), TWENTY, { log: (l) => log(`  ${l}`) })
    const reps = quick ? 3 : 5
    const withMs: number[] = []
    const withoutMs: number[] = []
    for (let i = 0; i < reps; i++) {
      withoutMs.push(await boot({ name: 'bench-nopkgs' }))
      withMs.push(await boot({ name: 'bench-pkgs', packages: TWENTY }))
      log(`  boot ${i + 1}/${reps}: without the layer ${secs(withoutMs[i])}, with it ${secs(withMs[i])}`)
    }
    return {
      names: TWENTY,
      packages: first.manifest.packages.length,
      layerMiB: round(first.manifest.bytes / 1048576, 0),
      listsMs: round(listsMs, 0),
      firstBuildMs: round(firstBuildMs, 0),
      phasesMs,
      cachedMs: cachedMs.map((x) => round(x, 2)),
      bootWithMs: withMs.map((x) => round(x, 0)),
      bootWithoutMs: withoutMs.map((x) => round(x, 0)),
      withOverWithout: round(median(withMs) / median(withoutMs), 3),
    }
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}
