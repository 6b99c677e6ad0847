// The overlay search path (xcluster's XCLUSTER_OVLPATH): an overlay given by
// name ("tools-extra") stands for the first directory or .tar of that name
// found in the path's directories.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'

/** The search path: the option, else XCLUSTER_OVLPATH (colon-separated), else none. */
export function overlaySearchPath(option?: string[]): string[] {
  if (option) return option
  return (process.env.XCLUSTER_OVLPATH ?? '').split(':').filter(Boolean)
}

/**
 * `entry` as a path: a path (with a `/`, `./name` for the current directory)
 * is itself; a name is the first match in `dirs` (a directory, or the name
 * with .tar), and nothing else: not whatever of that name is in the current
 * directory, which another user may have put there. Unresolved, it is given
 * back as it was (preflight says why).
 */
export function resolveOverlay(entry: string, dirs: string[]): string {
  if (entry.includes('/')) return entry
  for (const d of dirs) {
    for (const candidate of [resolve(d, entry), resolve(d, `${entry}.tar`)]) if (existsSync(candidate)) return candidate
  }
  return entry
}
