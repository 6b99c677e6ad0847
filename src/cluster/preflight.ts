// The checks of options that need the host: programs, image, paths, rights.
// Their problems join the pure validation's in one ClusterConfigError.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { ClusterOptions, ClusterSpec } from '../plan/options.ts'
import { imagePaths, xclusterHome } from '../image/home.ts'
import { overlayKind } from '../image/overlay-segment.ts'
import { QEMU } from '../qemu/accel.ts'

/** The full path of `program` on PATH, or undefined. */
export function which(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
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

/** How a missing-rights problem starts (validateOptions then throws PermissionError). */
export const RIGHTS_PROBLEM = "network: 'bridge'"

/** True when this process may manage network namespaces (root or CAP_NET_ADMIN). */
export function hasNetAdmin(): boolean {
  if (process.getuid?.() === 0) return true
  try {
    const m = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m ? (BigInt('0x' + m[1]) & (1n << 12n)) !== 0n : false
  } catch {
    return false
  }
}

/** Problems of `spec` that only the host can tell. */
export function preflight(opts: ClusterOptions, spec: ClusterSpec, ovlPath: string[] = []): string[] {
  const problems: string[] = []
  if (!which(QEMU)) {
    problems.push(`${QEMU} is not installed (not on PATH). Run \`npm run setup\`, or as root: apt-get install qemu-system-x86`)
  }
  const home = xclusterHome(opts.home)
  const kernel = opts.kernel ?? (process.env.XCLUSTER_KERNEL || undefined)
  if (kernel !== undefined) {
    if (!existsSync(kernel)) problems.push(`Kernel ${kernel} does not exist (option \`kernel\` or XCLUSTER_KERNEL)`)
    const modules = opts.modules ?? (process.env.XCLUSTER_MODULES || undefined)
    if (!modules) problems.push(`A custom kernel needs its modules directory (lib/modules/<version>) in option \`modules\` or XCLUSTER_MODULES`)
    else if (!existsSync(modules)) problems.push(`Modules directory ${modules} does not exist (option \`modules\` or XCLUSTER_MODULES)`)
  } else {
    const paths = imagePaths(home)
    if (!existsSync(paths.manifest) || !existsSync(paths.kernel) || !existsSync(paths.initrd)) {
      problems.push(`No VM image in ${paths.dir}. Run \`npm run setup\` first (or set XCLUSTER_HOME to where it was built)`)
    }
  }
  const overlayLists: Array<[string, string[]]> = [['overlays', spec.overlays]]
  for (const [role, list] of Object.entries(spec.overlaysRole)) overlayLists.push([`overlaysRole.${role}`, list ?? []])
  for (const [vm, list] of Object.entries(spec.overlaysVm)) overlayLists.push([`overlaysVm[${vm}]`, list])
  for (const [key, list] of overlayLists) {
    for (const p of list) {
      if (!existsSync(p)) {
        problems.push(
          p.includes('/')
            ? `Overlay ${p} (in \`${key}\`) does not exist`
            : `Overlay ${p} (in \`${key}\`) does not exist here nor in the overlay search path (${ovlPath.length ? ovlPath.join(':') : 'empty: set XCLUSTER_OVLPATH or ovlPath'})`,
        )
      }
      else if (!overlayKind(p)) problems.push(`Overlay ${p} (in \`${key}\`) is neither a directory nor a .tar file`)
    }
  }
  if (spec.network === 'bridge' && !hasNetAdmin()) {
    problems.push(
      RIGHTS_PROBLEM + " needs root or CAP_NET_ADMIN (to make a network namespace, bridges and taps); this process has neither. Run as root, or use network: 'user', which needs no rights",
    )
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
  return problems
}
