// The checks of a spec that need the host: programs, image, paths, rights.
// Their problems join the pure validation's in one ClusterConfigError; a
// missing right makes it a PermissionError.
import { accessSync, constants, existsSync } from 'node:fs'
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
  // On ssh hosts QEMU, the namespaces and their rights are the hosts' (checked there, see ssh-hosts.ts); here only the image is needed.
  const here = !spec.sshHosts
  if (here && !which(QEMU)) {
    problems.push(`${QEMU} is not installed (not on PATH). Run \`npm run setup\`, or as root: apt-get install qemu-system-x86`)
  }
  problems.push(...kernelProblems(spec))
  for (const [key, list] of overlayLists(spec)) {
    for (const p of list) {
      if (!existsSync(p)) {
        problems.push(
          p.includes('/')
            ? `Overlay ${p} (in \`${key}\`) does not exist`
            : `Overlay ${p} (in \`${key}\`) does not exist here nor in the overlay search path (${ovlPath.length ? ovlPath.join(':') : 'empty: set XCLUSTER_OVLPATH or ovlPath'})`,
        )
      } else if (!overlayKind(p)) problems.push(`Overlay ${p} (in \`${key}\`) is neither a directory nor a .tar file`)
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
    }
  }
  return { rights, problems }
}
