// validateOptions: the one validation of start, attach and scale-out. The
// pure checks (./options.ts), then what the environment supplies (home,
// kernel, overlay search path) resolved once, then the host's checks
// (./preflight.ts). Only the spec it returns flows on.
import { resolve } from 'node:path'
import { ClusterConfigError, PermissionError } from '../errors.ts'
import { stderrLogger, type Logger } from '../log.ts'
import { xclusterHome } from '../host/home.ts'
import { canUnshareNet, rootlessByDefault, userNamespaceProblem } from '../host/rootless.ts'
import type { ClusterSpec, Role, UserNets } from '../plan/spec.ts'
import { checkOptions, type ClusterOptions } from './options.ts'
import { overlaySearchPath, resolveOverlay } from './overlay-path.ts'
import { preflight } from './preflight.ts'
import type { CustomStart } from './start-context.ts'

/** Validate options: every problem in one ClusterConfigError (PermissionError for missing rights), nothing started. */
export function validateOptions(options: ClusterOptions): ClusterSpec<CustomStart> {
  const { spec, problems } = checkOptions(options)
  spec.home = xclusterHome(spec.home || undefined)
  spec.kernel ??= process.env.XCLUSTER_KERNEL || undefined
  spec.rootless = spec.network === 'bridge' && !spec.sshHosts && (spec.rootless ?? rootlessByDefault())
  spec.userNets = spec.network === 'user' && !spec.sshHosts ? userNetsHere(spec.userNets, problems, spec.log ?? stderrLogger()) : undefined
  // XCLUSTER_SNAPSHOT=1: snapshots for every cluster whose options do not say otherwise and can have them (no custom start, net-setup hook or ssh hosts).
  if (options?.snapshot === undefined && process.env.XCLUSTER_SNAPSHOT === '1' && !spec.start && !spec.netSetup && !spec.sshHosts) spec.snapshot = true
  if (spec.kernel) spec.modules ??= process.env.XCLUSTER_MODULES || undefined
  spec.budgetScale = budgetScaleHere(options?.budgetScale, spec.budgetScale, problems)
  // Overlays given by name are looked up in the overlay search path.
  const dirs = overlaySearchPath(Array.isArray(options?.ovlPath) ? options.ovlPath : undefined)
  mapOverlays(spec, (o) => resolveOverlay(o, dirs))
  const host = preflight(spec, dirs)
  const all = [...problems, ...host.problems, ...host.rights]
  if (host.rights.length) throw new PermissionError(all)
  if (all.length) throw new ClusterConfigError(all)
  // From here on paths do not depend on the working directory.
  mapOverlays(spec, (o) => resolve(o))
  if (typeof spec.netSetup === 'string') spec.netSetup = resolve(spec.netSetup)
  return spec
}

/** Said once per process: the host forbids what private user-mode nets need. */
let sharedSaid = false

/**
 * The user-mode nets a cluster gets here: private unless asked for shared
 * (`userNets`, XCLUSTER_USER_NETS=shared) or, by default, where this user may
 * make no namespace (then shared, said once). Asked for private where it
 * cannot be: a problem.
 */
function userNetsHere(asked: UserNets | undefined, problems: string[], log: Logger): UserNets {
  const env = process.env.XCLUSTER_USER_NETS
  if (asked === undefined && env !== undefined && env !== '' && env !== 'private' && env !== 'shared') problems.push(`Expected XCLUSTER_USER_NETS to be 'private' or 'shared', got \`${env}\``)
  const want: UserNets = asked ?? (env === 'shared' ? 'shared' : 'private')
  if (want === 'shared' || canUnshareNet()) return want
  const why = userNamespaceProblem()
  if (!why) return 'private'
  if (asked === 'private') {
    problems.push(`userNets: 'private' needs a network namespace of the cluster's own: ${why}`)
    return 'private'
  }
  if (!sharedSaid) {
    sharedSaid = true
    log.warn(`user-mode nets go on the host's loopback, where every local user can reach them (${why}); userNets: 'shared' or XCLUSTER_USER_NETS=shared says that is meant`)
  }
  return 'shared'
}

/** The budget scale: the option's, else XCLUSTER_BUDGET_SCALE's ('auto' or a factor), else 'auto'. */
function budgetScaleHere(given: unknown, checked: number | 'auto', problems: string[]): number | 'auto' {
  const env = process.env.XCLUSTER_BUDGET_SCALE
  if (given !== undefined || env === undefined || env === '' || env === 'auto') return checked
  const n = Number(env)
  if (Number.isFinite(n) && n >= 0.1 && n <= 100) return n
  problems.push(`Expected XCLUSTER_BUDGET_SCALE to be 'auto' or a number 0.1-100, got \`${env}\``)
  return checked
}

function mapOverlays(spec: ClusterSpec, fn: (o: string) => string): void {
  spec.overlays = spec.overlays.map(fn)
  for (const role of Object.keys(spec.overlaysRole) as Role[]) spec.overlaysRole[role] = (spec.overlaysRole[role] ?? []).map(fn)
  for (const vm of Object.keys(spec.overlaysVm)) spec.overlaysVm[Number(vm)] = spec.overlaysVm[Number(vm)].map(fn)
}

/**
 * The options to record for a cluster (`xc scaleout`, attach): the JSON-safe
 * part of what was given, with every path as validation resolved it, so that
 * validating them again anywhere gives the same spec.
 */
export function resolvedOptions(options: ClusterOptions, spec: ClusterSpec): Record<string, unknown> {
  const json = JSON.parse(JSON.stringify(options ?? {}, (_k, v) => (typeof v === 'function' ? undefined : v))) as Record<string, unknown>
  delete json.ovlPath
  json.home = spec.home
  if (spec.kernel) json.kernel = spec.kernel
  if (spec.modules) json.modules = spec.modules
  if (spec.network === 'bridge') json.rootless = spec.rootless
  if (spec.userNets) json.userNets = spec.userNets
  if (options?.overlays) json.overlays = spec.overlays
  if (options?.overlaysRole) json.overlaysRole = spec.overlaysRole
  if (options?.overlaysVm) json.overlaysVm = spec.overlaysVm
  if (spec.sshHosts && json.hosts) {
    // Key and known_hosts files as validation resolved them (an attach may run elsewhere).
    const hosts = json.hosts as Record<string, Record<string, unknown>>
    for (const [n, h] of Object.entries(spec.sshHosts)) {
      if (h.key) hosts[n].key = h.key
      if (h.knownHosts) hosts[n].knownHosts = h.knownHosts
    }
  }
  if (typeof json.network === 'object' && json.network) {
    // A net-setup function cannot be recorded: the base network stands in for it.
    json.network = typeof spec.netSetup === 'string' ? { ...(json.network as object), netSetup: spec.netSetup } : spec.network
  }
  return json
}
