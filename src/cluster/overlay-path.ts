// The overlay search path (xcluster's XCLUSTER_OVLPATH): an overlay given by
// name ("tools-extra") stands for the first directory or .tar of that name
// found in the path's directories.
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** The search path: the option, else XCLUSTER_OVLPATH (colon-separated), else none. */
export function overlaySearchPath(option?: string[]): string[] {
  if (option) return option
  return (process.env.XCLUSTER_OVLPATH ?? '').split(':').filter(Boolean)
}

/** `entry` as a path: itself when it exists or is a path, else the first match of the name in `dirs`. */
export function resolveOverlay(entry: string, dirs: string[]): string {
  if (existsSync(entry) || entry.includes('/')) return entry
  for (const d of dirs) {
    for (const candidate of [join(d, entry), join(d, `${entry}.tar`)]) if (existsSync(candidate)) return candidate
  }
  return entry
}
