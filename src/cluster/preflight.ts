// The checks of a spec that need the host: programs, image, paths, rights.
// Their problems join the pure validation's in one ClusterConfigError; a
// missing right makes it a PermissionError.
import { accessSync, closeSync, constants, existsSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { programTrustProblem } from '../host/path-trust.ts'
import { kernelProblems } from './kernel.ts'
import { rootlessProblems } from '../host/rootless.ts'
import { hasNetAdmin, which } from '../host/which.ts'
import { overlayKind } from '../image/overlay-segment.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import { QEMU } from '../qemu/accel.ts'

/** What each problem of rootless bridge mode starts with. */
export const ROOTLESS_PREFIX = "network: 'bridge' without root (rootless): "

/** The problem of bridge mode without the rights for it. */
export const BRIDGE_RIGHTS =
  "network: 'bridge' with `rootless: false` needs root or CAP_NET_ADMIN (to make a network namespace, bridges and taps); this process has neither. Run as root, drop `rootless: false` (bridge mode in a user namespace of its own), or use network: 'user', which needs no rights"

export interface HostProblems {
  /** Rights this process lacks for the spec. */
  rights: string[]
  /** Everything else: programs, image, paths. */
  problems: string[]
}

/** True when `file` starts with a tar header: POSIX ustar (or GNU) magic, or an old tar header whose checksum holds. */
export function looksLikeTar(file: string): boolean {
  const head = Buffer.alloc(512)
  const fd = openSync(file, 'r')
  let n: number
  try {
    n = readSync(fd, head, 0, 512, 0)
  } finally {
    closeSync(fd)
  }
  if (n < 512) return false
  if (head.subarray(257, 262).toString('latin1') === 'ustar') return true
  const stored = parseInt(head.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8)
  let sum = 0
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : head[i]
  return Number.isInteger(stored) && stored === sum && head[0] !== 0
}

/** Every overlay list of `spec`, with the option it came from. */
export function overlayLists(spec: Pick<ClusterSpec, 'overlays' | 'overlaysRole' | 'overlaysVm'>): Array<[string, string[]]> {
  const lists: Array<[string, string[]]> = [['overlays', spec.overlays]]
  for (const [role, list] of Object.entries(spec.overlaysRole)) lists.push([`overlaysRole.${role}`, list ?? []])
  for (const [vm, list] of Object.entries(spec.overlaysVm)) lists.push([`overlaysVm[${vm}]`, list])
  return lists
}

/** Problems of `spec` (home and kernel resolved, overlays looked up in `ovlPath`) that only the host can tell. */
export function preflight(spec: ClusterSpec, ovlPath: string[] = []): HostProblems {
  const problems: string[] = []
  const rights: string[] = []
  const asRoot = process.getuid?.() === 0
  // On ssh hosts QEMU, the namespaces and their rights are the hosts' (checked there, see ssh-hosts.ts); here only the image is needed.
  const here = !spec.sshHosts
  if (here && !which(QEMU)) {
    problems.push(`${QEMU} is not installed (not on PATH). Run \`npm run setup\`, or as root: apt-get install qemu-system-x86`)
  }
  problems.push(...kernelProblems(spec))
  for (const [key, list] of overlayLists(spec)) {
    for (const p of list) {
      // A name still without a / was not found in the search path (one that was is an absolute path now).
      if (!p.includes('/') || !existsSync(p)) {
        problems.push(
          p.includes('/')
            ? `Overlay ${p} (in \`${key}\`) does not exist`
            : `Overlay ${p} (in \`${key}\`) is not in the overlay search path (${ovlPath.length ? ovlPath.join(':') : 'empty: set XCLUSTER_OVLPATH or ovlPath'})${existsSync(p) ? `; ./${p} is here: a name is looked up only in the search path, write ./${p} for the one in the current directory` : ''}`,
        )
      } else {
        const kind = overlayKind(p)
        if (!kind) problems.push(`Overlay ${p} (in \`${key}\`) is neither a directory nor a .tar file`)
        else if (kind === 'tar-file' && !looksLikeTar(p)) problems.push(`Overlay ${p} (in \`${key}\`) is not a tar archive (no tar header at its start; a compressed one is not taken: unpack it, or give its directory)`)
        else if (kind === 'tar-script' && asRoot) {
          const why = programTrustProblem(join(p, 'tar'), p)
          if (why) problems.push(`Overlay ${p} (in \`${key}\`): its tar script would run as root, but another user could have changed it: ${why}`)
        }
      }
    }
  }
  if (spec.network === 'bridge' && here) {
    if (spec.rootless) rights.push(...rootlessProblems().map((p) => `${ROOTLESS_PREFIX}${p}`))
    else if (!hasNetAdmin()) rights.push(BRIDGE_RIGHTS)
  }
  if (typeof spec.netSetup === 'string') {
    if (!existsSync(spec.netSetup)) problems.push(`Net-setup script ${spec.netSetup} does not exist`)
    else {
      try {
        accessSync(spec.netSetup, constants.X_OK)
      } catch {
        problems.push(`Net-setup script ${spec.netSetup} is not executable (chmod +x it)`)
      }
      const why = asRoot ? programTrustProblem(spec.netSetup) : undefined
      if (why) problems.push(`Net-setup script ${spec.netSetup} would run as root, but another user could have changed it: ${why}`)
    }
  }
  return { rights, problems }
}
