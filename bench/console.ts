// Reading the `xc-phase: <phase> <uptime>` lines that the guest's boot script
// writes on the console, and watching console files for them from the host.
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

export const PHASES = ['init', 'network', 'telnet', 'ready'] as const
export type Phase = (typeof PHASES)[number]

/** Guest uptime (s) at each phase line found in `text`. */
export function parsePhases(text: string): Partial<Record<Phase, number>> {
  const out: Partial<Record<Phase, number>> = {}
  for (const m of text.replace(/\r/g, '').matchAll(/^xc-phase: (init|network|telnet|ready) ([0-9.]+)\s*$/gm)) {
    const phase = m[1] as Phase
    if (out[phase] === undefined) out[phase] = Number(m[2])
  }
  return out
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/**
 * Polls console files every `intervalMs` and records, for each file, the host
 * time (performance.now()) at which each phase line was first seen.
 */
export class ConsoleWatcher {
  readonly seen = new Map<string, Partial<Record<Phase, number>>>()
  private timer?: NodeJS.Timeout

  constructor(private readonly intervalMs = 20) {}

  add(path: string): void {
    if (!this.seen.has(path)) this.seen.set(path, {})
  }

  /** Poll in the background every intervalMs (until stop()). */
  start(): void {
    this.timer ??= setInterval(() => this.poll(), this.intervalMs)
    this.poll()
  }

  /** Read every file once; returns true when every file has shown `until`. */
  poll(until: Phase = 'ready'): boolean {
    const now = performance.now()
    let all = true
    for (const [path, seen] of this.seen) {
      if (seen[until] !== undefined) continue
      const found = parsePhases(readText(path))
      for (const p of PHASES) if (found[p] !== undefined && seen[p] === undefined) seen[p] = now
      if (seen[until] === undefined) all = false
    }
    return all
  }

  /** Guest uptimes of each file's phase lines, read now. */
  uptimes(path: string): Partial<Record<Phase, number>> {
    return parsePhases(readText(path))
  }

  /** Resolve when every file has shown `phase`, or after `timeoutMs` (false). */
  async waitAll(phase: Phase, timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs
    while (performance.now() < end) {
      if (this.poll(phase)) return true
      await new Promise((r) => setTimeout(r, this.intervalMs))
    }
    return this.poll(phase)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
