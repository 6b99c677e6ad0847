// Boot phases of one VM alone: when each `xc-phase:` console line was seen from
// the host, and the guest's uptime on it.
import { performance } from 'node:perf_hooks'
import { startCluster, xclusterHome, type RunningCluster } from '../src/index.ts'
import { listStates } from '../src/host/state-dir.ts'
import { ConsoleWatcher, parsePhases, PHASES, type Phase } from './console.ts'
import { live, stopCluster } from './session.ts'
import { round } from './stats.ts'

export interface PhaseResult {
  vm: string
  network: 'user'
  /** Guest uptime (s) printed on each phase line. */
  uptimes: Partial<Record<Phase, number>>
  /** Host ms from QEMU spawn until each phase line was seen on the console (polled every 20 ms). */
  hostSeenMs: Partial<Record<Phase, number>>
  /** Host ms from QEMU spawn until the harness's telnet shell answered. */
  spawnToTelnetReadyMs: number
  /** Host ms from the startCluster call until it resolved. */
  startClusterMs: number
  /** Host ms from spawn to the init line (the kernel, and QEMU/firmware before it). */
  spawnToInitMs?: number
  /** Guest-uptime deltas between phase lines, ms. */
  initToNetworkMs?: number
  networkToTelnetMs?: number
  telnetToReadyMs?: number
  /** Host ms from the console's telnet line until the harness's shell answered: readiness-detection lag. */
  telnetLineToShellMs?: number
}

/** Boot one VM alone (user mode) and time its phases from its console (with `kernel`, that kernel). */
export async function phaseRun(kernel?: string): Promise<PhaseResult> {
  const home = xclusterHome()
  const name = 'bench-phase'
  const watcher = new ConsoleWatcher(20)
  let spawnAt: number | undefined
  let consolePath: string | undefined
  let c: RunningCluster | undefined
  const t0 = performance.now()
  try {
    c = await startCluster({
      nvm: 1,
      nrouters: 0,
      name,
      ...(kernel ? { kernel } : {}),
      onProgress: (e) => {
        if (e.kind !== 'booting') return
        spawnAt = performance.now()
        // The library does not hand out the console path before readiness; find it in our own state dir.
        const st = listStates(home).find((s) => s.state.name === name && s.state.owner.pid === process.pid && !s.state.stoppedAt && s.state.vms[e.vm])
        consolePath = st?.state.vms[e.vm].console
        if (consolePath) {
          watcher.add(consolePath)
          watcher.start()
        }
      },
    })
    const readyAt = performance.now()
    live.add(c)
    const vm = c.vm(1)
    if (spawnAt === undefined) throw new Error('no booting event from startCluster')
    await watcher.waitAll('ready', 10_000)
    const seen = consolePath ? watcher.seen.get(consolePath) ?? {} : {}
    const uptimes = parsePhases(vm.console())
    const hostSeenMs: Partial<Record<Phase, number>> = {}
    for (const p of PHASES) if (seen[p] !== undefined) hostSeenMs[p] = round(seen[p]! - spawnAt, 0)
    const d = (a: Phase, b: Phase): number | undefined =>
      uptimes[a] !== undefined && uptimes[b] !== undefined ? round((uptimes[b]! - uptimes[a]!) * 1000, 0) : undefined
    return {
      vm: vm.name,
      network: 'user',
      uptimes,
      hostSeenMs,
      spawnToTelnetReadyMs: round(readyAt - spawnAt, 0),
      startClusterMs: round(readyAt - t0, 0),
      spawnToInitMs: hostSeenMs.init,
      initToNetworkMs: d('init', 'network'),
      networkToTelnetMs: d('network', 'telnet'),
      telnetToReadyMs: d('telnet', 'ready'),
      telnetLineToShellMs: hostSeenMs.telnet !== undefined ? round(readyAt - spawnAt - hostSeenMs.telnet, 0) : undefined,
    }
  } finally {
    watcher.stop()
    if (c) await stopCluster(c)
  }
}
