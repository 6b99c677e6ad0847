// Finding host programs, and whether this process may manage networks.
import { accessSync, constants, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * The sbin directories searched after PATH: a normal user's PATH on Debian
 * has none of them, and mke2fs (and on some systems ip) live there.
 */
export const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin']

/** The full path of `program` on PATH (then the sbin directories), or undefined. */
export function which(program: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS]
  for (const dir of dirs) {
    const p = join(dir, program)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // not here
    }
  }
  return undefined
}

/** True when this process may manage network namespaces: CAP_NET_ADMIN is effective (root has it unless it was dropped). */
export function hasNetAdmin(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m ? (BigInt('0x' + m[1]) & (1n << 12n)) !== 0n : process.getuid?.() === 0
  } catch {
    return process.getuid?.() === 0
  }
}
