// A lock between processes of one machine: a directory made with mkdir
// (atomic), holding the owner's pid and start time. A lock whose owner is
// gone (killed mid-build) is taken over, so a crash never blocks the next run.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { XcTimeoutError } from '../errors.ts'
import { procStartTime, sameProcess } from './proc.ts'

function owner(dir: string): { pid: number; start?: number } | undefined {
  try {
    const [pid, start] = readFileSync(join(dir, 'owner'), 'utf8').trim().split(' ').map(Number)
    return { pid, start }
  } catch {
    return undefined
  }
}

/** Run `fn` holding the lock `dir`; waits (up to `timeoutMs`) while a live process holds it. */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 30 * 60_000, what = 'a lock'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let seenEmpty = 0
  for (;;) {
    try {
      mkdirSync(dir)
      writeFileSync(join(dir, 'owner'), `${process.pid} ${procStartTime(process.pid) ?? ''}\n`)
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const o = owner(dir)
      // No owner file yet: its maker is between mkdir and write; only an owner file missing for long means a crash there.
      if (o ? !sameProcess(o.pid, o.start) : ++seenEmpty > 50) {
        rmSync(dir, { recursive: true, force: true })
        continue
      }
      if (Date.now() > deadline) throw new XcTimeoutError(`${what} (${dir}) is held by pid ${o?.pid ?? '?'} for more than ${Math.round(timeoutMs / 1000)} s`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
