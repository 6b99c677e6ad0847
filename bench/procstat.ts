// Resident memory and CPU time of host processes, from /proc.
import { readFileSync } from 'node:fs'

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
export const TICKS_PER_SEC = 100

/** VmRSS of `pid` in KiB, or undefined when it is gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** utime + stime of `pid` in ticks, or undefined when it is gone. */
export function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields 14 and 15, counted after the parenthesised command name.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(rest[11]) + Number(rest[12])
  } catch {
    return undefined
  }
}

export interface IdleSample {
  pid: number
  rssKiB: number
  /** CPU time used over the window, as a percentage of one core. */
  cpuPct: number
}

/** Sample `pids` over `windowMs`: CPU used in the window, RSS at its end. */
export async function idleCost(pids: number[], windowMs: number): Promise<IdleSample[]> {
  const before = pids.map(cpuTicks)
  const t0 = Date.now()
  await new Promise((r) => setTimeout(r, windowMs))
  const secs = (Date.now() - t0) / 1000
  return pids.map((pid, i) => {
    const a = before[i]
    const b = cpuTicks(pid)
    const rss = rssKiB(pid)
    if (a === undefined || b === undefined || rss === undefined) throw new Error(`process ${pid} went away during the idle window`)
    return { pid, rssKiB: rss, cpuPct: ((b - a) / TICKS_PER_SEC / secs) * 100 }
  })
}
