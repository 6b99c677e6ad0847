// npm run bench [-- --quick | --no-scale | --only-scale | --only-rootless | --only-user-nets [--scale] | --only-ssh | --only-snapshots [--scale] | --only-kernel [--kernel-cold]]
//
// What the harness costs, what a boot costs, and how far one machine goes, in one run:
//   1. stock baseline: one bare QEMU booting Debian's cloud kernel as packaged
//      (bzImage) with a gzip initramfs of busybox and the signed virtio
//      modules, q35 + qboot, no boot tuning; against it one VM of the harness
//      from startCluster() to telnet-ready (the stock runs alternate with the
//      1-VM floor and harness runs, as many of each);
//   2. cluster-ready time for 1, 8 and 32 VMs (user mode) against the floor:
//      as many bare QEMU processes with the harness's own kernel, initramfs and
//      machine arguments, all spawned at once, to 'xc-phase: ready';
//   3. the same 8-VM cluster in bridge mode; exec('true') latency in both modes;
//   4. boot phases of one VM from its console;
//   5. idle RSS and CPU per VM over 30 s (the 8-VM cluster);
//   6. TCP throughput VM to VM over net 1 (iperf3), user against bridge mode;
//   7. package layers: the first build of a 20-package layer (apt resolve,
//      download, build), a cached reuse, and a 1-VM boot with it against
//      the same VM without it;
//   8. bridge mode rootless against root: 8 VMs ready, exec latency,
//      iperf3 throughput, runs alternating; private user-mode nets against
//      shared ones the same way (and SCALE_VMS VMs each with the scale part);
//   9. snapshots: 1, 8 and 32 VMs (100 with the scale part) cold against a
//      start from the snapshot and against restore(), memory per VM;
//  10. ssh hosts against simulated hosts: 8 VMs on 2 hosts ready, exec
//      latency on the second host, iperf3 across them (root only);
//  11. kernels (--only-kernel alone): the harness's own against Debian's, 1
//      and 8 VMs ready with each against the stock floor of that size, the
//      boot phases with each, the kernel build cached (and cold with --kernel-cold);
//  12. scale: 100 VMs (mem 80, tbSize 24) in user and in bridge mode, with the
//      time to all ready, the machine's peak memory, RSS and PSS, and ping over
//      net 1 between 100 sampled pairs.
// Floor and harness runs alternate and medians are reported. The benchmark
// reports ratios measured in the same run; it never fails on a number.
// Everything it starts is stopped in finally blocks (and on Ctrl-C).
//
// The parts: config.ts (flags, constants), session.ts (what is running, failures,
// stopping), harness.ts, stock.ts, floor.ts, phases.ts, scale.ts, report.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { loadImage, planCluster, startCluster, validateOptions } from '../src/index.ts'
import { QEMU, resolveAccel } from '../src/qemu/accel.ts'
import { FLOOR_TIMEOUT_MS, log, onlyKernel, onlyRootless, onlyScale, onlySnapshots, onlySsh, onlyUserNets, quick, scale, SCALE_OPTIONS, SCALE_VMS, SERIES, XC_VMS } from './config.ts'
import { bootFloor, type FloorResult } from './floor.ts'
import { harnessRun, iperf3Mbps, type HarnessRun } from './harness.ts'
import { kernelRun, type KernelResult } from './kernel.ts'
import { packagesRun, type PackagesResult } from './packages.ts'
import { phaseRun, type PhaseResult } from './phases.ts'
import { rootlessRun, type RootlessResult } from './rootless.ts'
import { userNetsRun, type UserNetsResult } from './user-nets.ts'
import { snapshotRun, type SnapshotSize } from './snapshot.ts'
import { sshHostsRun, type SshHostsResult } from './ssh-hosts.ts'
import { hasNetAdmin } from '../src/host/which.ts'
import { report, type SeriesResult } from './report.ts'
import { scaleRun, xcStartRun, type ScaleResult, type XcStartResult } from './scale.ts'
import { live, part, stopCluster, stopEverything, stopOnSignals } from './session.ts'
import { median, msec, ratio, round, secs, times } from './stats.ts'
import { stockInitrd } from './stock.ts'
import { imageFor } from '../src/cluster/kernel.ts'
import { DEBIAN_KERNEL, xclusterHome } from '../src/host/home.ts'

stopOnSignals()

/** Run every part in turn, then report. */
async function main(): Promise<void> {
  const mode = onlyScale ? ' (--only-scale)' : quick ? ' (--quick: fewer repetitions, no 32 VMs, no scale)' : scale ? '' : ' (--no-scale)'
  log(`xcluster bench${mode}`)
  const image = loadImage()
  const accel = await resolveAccel('auto')
  const qemuVersion = (await execa(QEMU, ['--version'], { reject: false })).stdout.split('\n')[0]
  const loadBefore = loadavg()
  log(`accel ${accel}, ${availableParallelism()} CPUs, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, kernel ${image.kernelVersion} (${image.kernelBoot.kind})`)
  const floorVms = (n: number) =>
    planCluster(validateOptions({ nvm: n, nrouters: 0 }), { clusterId: 'floor', telnetBase: 0, sshBase: 0, mcastPortBase: 0, mcastGroupPrefix: '239.255.0' }).vms
  const tmp = mkdtempSync(join(tmpdir(), 'xc-bench-'))

  const series: SeriesResult[] = []
  const stockRuns: number[] = []
  const userRuns: HarnessRun[] = []
  const bridgeRuns: HarnessRun[] = []
  let phases: PhaseResult | undefined
  const throughput: Record<string, number> = {}
  const scaleResults: ScaleResult[] = []
  const xcResults: XcStartResult[] = []
  let packages: PackagesResult | undefined
  let rootless: RootlessResult | undefined
  let userNets: UserNetsResult | undefined
  let snapshots: SnapshotSize[] | undefined
  let sshHosts: SshHostsResult | undefined
  let kernel: KernelResult | undefined
  // The simulated ssh hosts are namespaces with an address and an sshd each: root only.
  const sshPart = async (): Promise<void> => {
    if (!hasNetAdmin()) return log('ssh hosts: skipped (the simulated ssh hosts need root)')
    log('ssh hosts against simulated hosts: 8 VMs on 2 hosts ready, exec latency, iperf3 across ...')
    sshHosts = await part('ssh hosts', sshHostsRun)
  }
  try {
    if (onlyKernel) {
      log("kernels: the harness's own against Debian's, 1 and 8 VMs against the stock floor, phases, build ...")
      kernel = await part('kernel', () => kernelRun(accel))
    } else if (onlySnapshots) {
      snapshots = await part('snapshots', () => snapshotRun(process.argv.includes('--scale') ? SCALE_VMS : undefined))
    } else if (onlySsh) {
      await sshPart()
    } else if (onlyRootless) {
      log('bridge mode, rootless against root: 8 VMs ready, exec latency, iperf3 ...')
      rootless = await part('rootless', rootlessRun)
    } else if (onlyUserNets) {
      log(`user mode, private nets against shared: 8 VMs ready, exec latency, iperf3${process.argv.includes('--scale') ? `, ${SCALE_VMS} VMs` : ''} ...`)
      userNets = await part('user nets', () => userNetsRun(process.argv.includes('--scale') ? SCALE_VMS : undefined))
    } else if (!onlyScale) {
      log('boot phases: one VM alone (user mode); also warms caches ...')
      phases = await part('boot phases', async () => {
        const r = await phaseRun()
        log(`  ${r.vm}: spawn->init ${msec(r.spawnToInitMs, 0)}, init->network ${msec(r.initToNetworkMs, 0)}, network->telnet ${msec(r.networkToTelnetMs, 0)}, telnet->ready ${msec(r.telnetToReadyMs, 0)}, spawn->telnet-ready ${msec(r.spawnToTelnetReadyMs, 0)}`)
        return r
      })

      // The stock baseline is Debian's kernel as packaged, whatever kernel the harness boots (its own by default).
      const debian = await imageFor({ home: xclusterHome(), kernel: DEBIAN_KERNEL })
      const stock = await part('stock initramfs', () => stockInitrd(tmp, debian))
      for (const { n, reps } of SERIES) {
        const floors: FloorResult[] = []
        const harness: HarnessRun[] = []
        for (let rep = 0; rep < reps; rep++) {
          if (n === 1 && stock) {
            log(`1 VM, run ${rep + 1}/${reps}: stock baseline (bzImage as packaged, gzip initramfs with signed modules, -cpu max, no tuning) ...`)
            const s = await part(`stock #${rep + 1}`, () =>
              bootFloor({ vms: floorVms(1), accel, kernel: debian.bzImage, initrd: stock, timeoutMs: FLOOR_TIMEOUT_MS, bootTuning: [], cpu: 'max' }),
            )
            if (s) {
              stockRuns.push(s.ms)
              log(`  stock: ${secs(s.ms)}`)
            }
          }
          log(`${n} VM(s), run ${rep + 1}/${reps}: floor (${n} bare QEMUs at once) ...`)
          const f = await part(`floor ${n} #${rep + 1}`, () =>
            bootFloor({ vms: floorVms(n), accel, kernel: image.kernel, initrd: image.initrd, timeoutMs: FLOOR_TIMEOUT_MS }),
          )
          if (f) {
            floors.push(f)
            log(`  floor: ${secs(f.ms)}`)
          }
          log(`${n} VM(s), run ${rep + 1}/${reps}: harness, user mode ...`)
          const extras = n === 8 && rep === 0
          const u = await part(`harness ${n} user #${rep + 1}`, () => harnessRun(n, 'user', extras))
          if (u && Number.isFinite(u.ms)) {
            harness.push(u)
            if (n === 8) userRuns.push(u)
          }
          if (n === 8 && rep === 0) {
            log(`8 VMs: harness, bridge mode ...`)
            const b = await part('harness 8 bridge', () => harnessRun(8, 'bridge', true))
            if (b && Number.isFinite(b.ms)) bridgeRuns.push(b)
          }
        }
        const floorMs = median(floors.map((r) => r.ms))
        const harnessMs = median(harness.map((r) => r.ms))
        series.push({
          n, floorMs: round(floorMs, 0), harnessMs: round(harnessMs, 0), harnessOverFloor: round(ratio(harnessMs, floorMs), 3),
          floorRunsMs: floors.map((r) => round(r.ms, 0)), harnessRunsMs: harness.map((r) => round(r.ms, 0)),
        })
        log(`${n} VM(s): harness ${secs(harnessMs)} / floor ${secs(floorMs)} = ${times(ratio(harnessMs, floorMs))}`)
      }

      log('packages: first build of a 20-package layer, cached reuse, boot with it against without ...')
      packages = await part('packages', packagesRun)

      log('bridge mode, rootless against root: 8 VMs ready, exec latency, iperf3 ...')
      rootless = await part('rootless', rootlessRun)

      log(`user mode, private nets against shared: 8 VMs ready, exec latency, iperf3${scale ? `, ${SCALE_VMS} VMs` : ''} ...`)
      userNets = await part('user nets', () => userNetsRun(scale ? SCALE_VMS : undefined))

      snapshots = await part('snapshots', () => snapshotRun(scale ? SCALE_VMS : undefined))

      await sshPart()

      // TCP throughput VM to VM over net 1 (iperf3): user mode (multicast socket net) against bridge mode (tap and bridge).
      for (const network of ['user', 'bridge'] as const) {
        log(`throughput: iperf3 vm-001 -> vm-002 over net 1, ${network} mode ...`)
        await part(`throughput ${network}`, async () => {
          const c = await startCluster({ name: `bench-tp-${network}`, network, nvm: 2, nrouters: 0, tools: true, stdAddresses: true })
          live.add(c)
          try {
            throughput[network] = await iperf3Mbps(c.vm(2), c.vm(1), '192.168.1.2')
            log(`  ${network}: ${throughput[network].toFixed(0)} Mbit/s`)
          } finally {
            await stopCluster(c)
          }
        })
      }
    }

    if (scale && !onlyRootless && !onlySnapshots && !onlySsh && !onlyUserNets && !onlyKernel) {
      for (const network of ['user', 'bridge'] as const) {
        log(`scale: ${SCALE_VMS} VMs in ${network} mode (mem ${SCALE_OPTIONS.mem}, tbSize ${SCALE_OPTIONS.tbSize}) ...`)
        const r = await part(`scale ${network}`, () => scaleRun(network))
        if (r) scaleResults.push(r)
      }
      for (const network of ['user', 'bridge'] as const) {
        log(`scale: xc start of ${XC_VMS} VMs in ${network} mode ...`)
        const r = await part(`xc start ${network}`, () => xcStartRun(network))
        if (r) xcResults.push(r)
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }

  report({ image, accel, qemuVersion, loadBefore, series, stockRuns, userRuns, bridgeRuns, phases, throughput, scaleResults, xcResults, packages, rootless, userNets, snapshots, sshHosts, kernel })
}

try {
  await main()
} catch (e) {
  console.error(e)
  process.exitCode = 1
} finally {
  await stopEverything()
}
