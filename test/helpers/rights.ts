// What the harness's own tests may do with this process's rights. Bridge mode
// (namespaces, bridges, taps) needs root or CAP_NET_ADMIN; without it those
// tests are skipped, and the name of each skipped test or describe says why.
import { readFileSync } from 'node:fs'
import { hasNetAdmin } from '../../src/host/which.ts'

/** True when this process may run bridge mode (root, or CAP_NET_ADMIN effective). */
export const canBridge: boolean = hasNetAdmin()

/** Why a bridge-mode test is skipped without the rights. */
export const NEEDS_BRIDGE_RIGHTS = 'needs root or CAP_NET_ADMIN (bridge mode makes namespaces, bridges and taps); rootless bridge mode is not built yet'

/** True when CAP_NET_RAW is effective (root has it): tcpdump may capture on the host's interfaces. */
export const canCapture: boolean = (() => {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m ? (BigInt('0x' + m[1]) & (1n << 13n)) !== 0n : process.getuid?.() === 0
  } catch {
    return process.getuid?.() === 0
  }
})()

/** Why a test that captures on the host's interfaces is skipped without the rights. */
export const NEEDS_CAPTURE_RIGHTS = 'needs root or CAP_NET_RAW (tcpdump captures on the host uplink and on lo)'

/** `name` as it is, or, when `skipped`, with `(skipped: <reason>)` after it. */
export function skippedBecause(name: string, skipped: boolean, reason: string = NEEDS_BRIDGE_RIGHTS): string {
  return skipped ? `${name} (skipped: ${reason})` : name
}
