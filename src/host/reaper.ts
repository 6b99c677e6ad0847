// The reaper of this process (see reaper.mjs): started once per home by the
// first cluster this process owns, detached, so that it outlives a kill.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { procStartTime } from './proc.ts'
import type { ProcessRecord } from './state-dir.ts'

const REAPER = fileURLToPath(new URL('./reaper.mjs', import.meta.url))
const XC = fileURLToPath(new URL('../../bin/xc.js', import.meta.url))
const started = new Map<string, ProcessRecord>()

/**
 * Start this process's reaper for `home`, once: when this process dies, it
 * removes what its clusters left there. Returns the reaper's record.
 */
export function ensureReaper(home: string): ProcessRecord | undefined {
  const known = started.get(home)
  if (known) return known
  const start = procStartTime(process.pid)
  if (start === undefined) return undefined
  const child = spawn(process.execPath, [REAPER, String(process.pid), String(start), home, XC], { detached: true, stdio: 'ignore' })
  child.on('error', () => started.delete(home))
  child.unref()
  const rec = { pid: child.pid!, startTime: procStartTime(child.pid!) }
  started.set(home, rec)
  return rec
}
