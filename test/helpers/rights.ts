// What the harness's own tests may do with this process's rights. Bridge mode
// (namespaces, bridges, taps) needs root or CAP_NET_ADMIN, or else a host that
// allows rootless bridge mode (unprivileged user namespaces, /dev/net/tun
// open to this user); without both those tests are skipped, and the name of
// each skipped test or describe says why.
import { readFileSync } from 'node:fs'
import { bridgeModeProblems, rootlessProblems } from '../../src/host/rootless.ts'
import { hasNetAdmin } from '../../src/host/which.ts'

/** True when this process may make named namespaces itself (root, or CAP_NET_ADMIN effective). */
export const canRootBridge: boolean = hasNetAdmin()

/** What stops rootless bridge mode here (empty: it can run), asked of the host at load. */
export const rootlessBlockers: string[] = rootlessProblems()

/** True when rootless bridge mode can run here (as any user). */
export const canRootless: boolean = rootlessBlockers.length === 0

/** True when bridge mode runs here as the harness picks it: rootless without CAP_NET_ADMIN (or with XCLUSTER_ROOTLESS=1), else as root. */
export const canBridge: boolean = bridgeModeProblems().length === 0

/** Why a bridge-mode test is skipped: neither root nor a host that allows rootless bridge mode. */
export const NEEDS_BRIDGE_RIGHTS = `needs root or CAP_NET_ADMIN, or a host that allows rootless bridge mode, which this one does not: ${rootlessBlockers.join('; ')}`

/** Why a test of named (root) namespaces is skipped without root. */
export const NEEDS_ROOT_NAMESPACES = 'needs root or CAP_NET_ADMIN (named namespaces in /run/netns; rootless bridge mode has none)'

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
