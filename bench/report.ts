// The benchmark's report: the table on stdout and results.json, from what one
// run measured; failed parts are listed and make the exit code 1.
import { writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { validateOptions, type loadImage } from '../src/index.ts'
import { EXEC_WARMUP, IDLE_WINDOW_MS, log, onlyKernel, onlyScale, quick, RESULTS, scale } from './config.ts'
import type { HarnessRun } from './harness.ts'
import { kernelRows, type KernelResult } from './kernel.ts'
import type { PackagesResult } from './packages.ts'
import type { RootlessResult } from './rootless.ts'
import type { UserNetsResult } from './user-nets.ts'
import type { SshHostsResult } from './ssh-hosts.ts'
import type { SnapshotSize } from './snapshot.ts'
import type { PhaseResult } from './phases.ts'
import type { ScaleResult, XcStartResult } from './scale.ts'
import { errors } from './session.ts'
import { median, msec, ratio, round, secs, table, times } from './stats.ts'

export interface SeriesResult {
  n: number
  floorMs: number
  harnessMs: number
  harnessOverFloor: number
  floorRunsMs: number[]
  harnessRunsMs: number[]
}

/** What one run measured, and the host and image it ran on. */
export interface Measured {
  image: ReturnType<typeof loadImage>
  accel: 'kvm' | 'tcg'
  qemuVersion: string
  loadBefore: number[]
  series: SeriesResult[]
  stockRuns: number[]
  userRuns: HarnessRun[]
  bridgeRuns: HarnessRun[]
  phases: PhaseResult | undefined
  throughput: Record<string, number>
  scaleResults: ScaleResult[]
  xcResults: XcStartResult[]
  packages?: PackagesResult
  rootless?: RootlessResult
  userNets?: UserNetsResult
  snapshots?: SnapshotSize[]
  sshHosts?: SshHostsResult
  kernel?: KernelResult
}

/** Print the table, write results.json and list the parts that failed. */
export function report(m: Measured): void {
  const { image, accel, qemuVersion, loadBefore, series, stockRuns, userRuns, bridgeRuns, phases, throughput, scaleResults, xcResults, packages, rootless, userNets, snapshots, sshHosts, kernel } = m
  const stockMs = median(stockRuns)
  const one = series.find((s) => s.n === 1)
  const s8 = series.find((s) => s.n === 8)
  const execUser = userRuns.find((r) => r.exec)?.exec
  const execBridge = bridgeRuns.find((r) => r.exec)?.exec
  const idleRes = userRuns.find((r) => r.idle)?.idle
  const bridgeMs = median(bridgeRuns.map((r) => r.ms))
  const list = (xs: number[]): string => (xs.length ? `runs ${xs.map((x) => secs(x)).join(', ')}` : 'no run')

  const rows: string[][] = [['measure', 'value', 'detail']]
  if (kernel) rows.push(...kernelRows(kernel))
  if (!onlyScale && !onlyKernel) {
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
  if (packages) {
    const p = packages
    rows.push(
      [`package layer, first build (${p.names.length} packages, ${p.packages} with deps)`, secs(p.firstBuildMs), `resolve ${secs(p.phasesMs.resolve)}, download ${secs(p.phasesMs.download)}, build ${secs(p.phasesMs.build)}; ${p.layerMiB} MiB; the lists before it ${secs(p.listsMs)}`],
      ['package layer, cached reuse', msec(median(p.cachedMs), 2), `median of ${p.cachedMs.length} (runs ${p.cachedMs.map((x) => msec(x, 2)).join(', ')}); target < 1 s; first build / reuse ${Math.round(ratio(p.firstBuildMs, median(p.cachedMs)))}x`],
      ['1 VM boot with the layer / without', times(p.withOverWithout), `target <= 1.1; with ${list(p.bootWithMs)}; without ${list(p.bootWithoutMs)} (tools on in both)`],
    )
  }
  if (rootless) {
    const r = rootless
    rows.push(
      [`bridge mode rootless / root: ${r.vms} VMs ready`, times(r.readyRatio), `target within 10 %; root ${list(r.readyMs.root)}; rootless ${list(r.readyMs.rootless)}`],
      [`bridge mode rootless / root: exec('true') median`, times(r.execRatio), `root ${r.exec.root.map((e) => msec(e.medianMs)).join(', ')}; rootless ${r.exec.rootless.map((e) => msec(e.medianMs)).join(', ')}`],
      [`bridge mode rootless / root: iperf3 over net 1`, times(r.throughputRatio), `root ${r.mbps.root.join(', ')} Mbit/s; rootless ${r.mbps.rootless.join(', ')} Mbit/s`],
    )
  }
  if (userNets) {
    const r = userNets
    rows.push(
      [`user mode private / shared nets: ${r.vms} VMs ready`, times(r.readyRatio), `private ${list(r.readyMs.private)}; shared ${list(r.readyMs.shared)}`],
      [`user mode private / shared nets: exec('true') median`, times(r.execRatio), `private ${r.exec.private.map((e) => msec(e.medianMs)).join(', ')}; shared ${r.exec.shared.map((e) => msec(e.medianMs)).join(', ')}`],
      [`user mode private / shared nets: iperf3 over net 1`, times(r.throughputRatio), `private ${r.mbps.private.join(', ')} Mbit/s; shared ${r.mbps.shared.join(', ')} Mbit/s`],
      ...(r.scale ? [[`user mode private / shared nets: ${r.scale.vms} VMs ready`, times(r.scaleRatio), `private ${list(r.scale.readyMs.private)}; shared ${list(r.scale.readyMs.shared)}`]] : []),
    )
  }
  if (sshHosts) {
    const r = sshHosts
    rows.push(
      [`ssh hosts / simulated hosts: ${r.vms} VMs on 2 hosts ready`, times(r.readyRatio), `simulated ${list(r.readyMs.simulated)}; ssh ${list(r.readyMs.ssh)}; the first ssh start (copying the image to both hosts) ${secs(r.firstSshMs)}`],
      [`ssh hosts / simulated hosts: exec('true') median`, times(r.execRatio), `simulated ${r.exec.simulated.map((e) => msec(e.medianMs)).join(', ')}; ssh ${r.exec.ssh.map((e) => msec(e.medianMs)).join(', ')}`],
      [`ssh hosts / simulated hosts: iperf3 across the hosts`, times(r.throughputRatio), `simulated ${r.mbps.simulated.join(', ')} Mbit/s; ssh ${r.mbps.ssh.join(', ')} Mbit/s`],
    )
  }
  for (const r of snapshots ?? []) {
    rows.push(
      [`snapshot, ${r.nvm} VMs: from the snapshot / cold`, times(r.fromSnapshotOverCold), `cold ${list(r.coldMs)}; from the snapshot ${list(r.fromSnapshotMs)}; first start with the save ${list(r.firstSaveMs)}; ${r.snapshotMiB} MiB saved`],
      [`snapshot, ${r.nvm} VMs: restore() / cold`, times(r.restoreOverCold), `restore() ${list(r.restoreMs)}; per VM RSS ${r.rssCold} MiB cold, ${r.rssRestored} MiB restored; PSS ${r.pssCold} / ${r.pssRestored} MiB`],
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
    packages: packages ?? null,
    rootless: rootless ?? null,
    userNets: userNets ?? null,
    snapshots: snapshots ?? null,
    sshHosts: sshHosts ?? null,
    kernel: kernel ?? null,
    errors,
  }
  writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n')
  log(`results written to ${RESULTS}`)
  if (errors.length) {
    console.log(`\n${errors.length} part(s) failed:\n${errors.map((e) => `  - ${e}`).join('\n')}`)
    process.exitCode = 1
  }
}
