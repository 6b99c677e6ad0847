// Facts about host processes, read from /proc, for telling a live owner or
// VM from a stranger that reused its pid.
import { readdirSync, readFileSync } from 'node:fs'
import { waitFor } from './wait.ts'

/** Start time of `pid` in clock ticks since boot, or undefined when it is gone. */
export function procStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22, counted after the parenthesised command name (which may hold spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(rest[19])
  } catch {
    return undefined
  }
}

/** The argv of `pid`, or undefined when it is gone. */
export function procCmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return undefined
  }
}

/** True when `pid` is a process of the cluster whose state is in `dir`: its argv names the directory (as argvNames in remote-cleanup.ts tells on a host). */
export function argvNamesDir(pid: number, dir: string): boolean {
  return (procCmdline(pid) ?? []).some((a) => a.includes(dir))
}

/** Every live process (not this one) whose argv names `dir`. */
export function processesNamingDir(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .map(Number)
    .filter((pid) => procAlive(pid) && argvNamesDir(pid, dir))
}

/** True when `pid` runs and is not a zombie. */
export function procAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** True when `pid` is alive and is the process that started at `startTime`. */
export function sameProcess(pid: number, startTime: number | undefined): boolean {
  return procAlive(pid) && startTime !== undefined && procStartTime(pid) === startTime
}

/** Wait until `pid` has exited, up to `timeoutMs`; true when it did. */
export function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  return waitFor(() => !procAlive(pid), { timeoutMs, intervalMs: 20 })
}
