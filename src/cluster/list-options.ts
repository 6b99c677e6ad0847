// The options that come as lists for all VMs, per role and per VM number:
// overlays and Debian packages. Pure; the overlay search path is
// ./overlay-path.ts, the package layers ./packages.ts.
import { show, type Checker } from '../pure/check.ts'
import type { ClusterSpec, Role } from '../plan/spec.ts'

export interface ListOptions {
  overlays?: string[]
  ovlPath?: string[]
  overlaysRole?: Partial<Record<Role, string[]>>
  overlaysVm?: Record<number, string[]>
  packages?: string[]
  packagesRole?: Partial<Record<Role, string[]>>
  packagesVm?: Record<number, string[]>
}

/** Overlays for all VMs, per role and per VM number. */
export function checkOverlays(c: Checker, opts: ListOptions): Pick<ClusterSpec, 'overlays' | 'overlaysRole' | 'overlaysVm'> {
  const overlays = c.pathList('overlays', opts.overlays)
  if (opts.ovlPath !== undefined) c.pathList('ovlPath', opts.ovlPath, 'directories')
  const overlaysRole: Partial<Record<Role, string[]>> = {}
  const byRole = opts.overlaysRole as unknown
  if (byRole !== undefined) {
    if (typeof byRole !== 'object' || byRole === null) {
      c.add(`Expected \`overlaysRole\` to be an object keyed by role, got ${show(byRole)}`)
    } else {
      for (const [role, list] of Object.entries(byRole)) {
        if (role !== 'node' && role !== 'router' && role !== 'tester') {
          c.add(`Expected the keys of \`overlaysRole\` to be node, router or tester, got ${show(role)}`)
          continue
        }
        overlaysRole[role] = c.pathList(`overlaysRole.${role}`, list)
      }
    }
  }
  const overlaysVm = c.perVm('overlaysVm', opts.overlaysVm, (k, val) => c.pathList(k, val))
  return { overlays, overlaysRole, overlaysVm }
}


/** A Debian package name (policy 5.6.1): lower-case letters, digits, +, - and ., starting with a letter or digit. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/

function packageList(c: Checker, key: string, v: unknown): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) {
    c.add(`Expected \`${key}\` to be a list of Debian package names, got ${show(v)}`)
    return []
  }
  const out: string[] = []
  for (const n of v) {
    if (typeof n === 'string' && PACKAGE_NAME.test(n) && !n.endsWith('-')) out.push(n)
    else if (typeof n === 'string' && PACKAGE_NAME.test(n)) {
      // apt-get reads a trailing - as "remove"; no Debian package name ends in one. (A trailing + is "install"
      // only when no package has the whole name: g++ and bonnie++ do, so that one is checked against the archive.)
      c.add(`Expected every entry of \`${key}\` to be a Debian package name, got ${show(n)}: apt reads a trailing \`-\` as "remove ${n.slice(0, -1)}" (no Debian package name ends in \`-\`)`)
    } else c.add(`Expected every entry of \`${key}\` to be a Debian package name (lower-case letters, digits, +, - and .), got ${show(n)}`)
  }
  return out
}

/** Debian packages for all VMs, per role and per VM number. */
export function checkPackages(c: Checker, opts: ListOptions): Pick<ClusterSpec, 'packages' | 'packagesRole' | 'packagesVm'> {
  const packages = packageList(c, 'packages', opts.packages)
  const packagesRole: Partial<Record<Role, string[]>> = {}
  const byRole = opts.packagesRole as unknown
  if (byRole !== undefined) {
    if (typeof byRole !== 'object' || byRole === null || Array.isArray(byRole)) {
      c.add(`Expected \`packagesRole\` to be an object keyed by role, got ${show(byRole)}`)
    } else {
      for (const [role, list] of Object.entries(byRole)) {
        if (role !== 'node' && role !== 'router' && role !== 'tester') {
          c.add(`Expected the keys of \`packagesRole\` to be node, router or tester, got ${show(role)}`)
          continue
        }
        packagesRole[role] = packageList(c, `packagesRole.${role}`, list)
      }
    }
  }
  const packagesVm = c.perVm('packagesVm', opts.packagesVm, (k, val) => packageList(c, k, val))
  return { packages, packagesRole, packagesVm }
}
