// Cluster options as the user writes them, their defaults, and the one place
// they are validated. Pure: no I/O here (paths and programs are checked in
// ../cluster/preflight.ts, which adds its problems to the same list).
import { isIPv6 } from 'node:net'
import type { NetSetup } from '../net/net-setup.ts'
import type { CustomStart } from '../cluster/start-context.ts'
import { getTopology, TOPOLOGIES } from '../topology/index.ts'
import { impairmentProblems, type Impairment } from '../cluster/faults.ts'

export type Role = 'node' | 'router' | 'tester'
export type Accel = 'auto' | 'kvm' | 'tcg'
export type NetworkMode = 'user' | 'bridge'

/** A custom network: a net-setup hook on top of a base backend (xcluster's `__net_setup`). */
export interface CustomNetwork {
  base?: NetworkMode
  netSetup: NetSetup
}

export interface ClusterOptions {
  /** Name shown in logs and used by `xc --name`; letters, digits, `-` and `_`. */
  name?: string
  /** Cluster nodes, numbered 1..nvm (1-200). */
  nvm?: number
  /** Routers, numbered 201.. (0-20). */
  nrouters?: number
  /** Testers, numbered 221.. (0-20). */
  ntesters?: number
  /** Extra VM numbers beyond the counts (xcluster's scale-out), any role by number. */
  extraVms?: number[]
  netsVm?: number[]
  netsRouter?: number[]
  netsTester?: number[]
  /** Net list per VM number (xcluster's `__netsNNN`); must start with net 0. */
  nets?: Record<number, number[]>
  /** MiB per VM (default 128, at least 80: the kernel does not boot with less). */
  mem?: number
  memVm?: Record<number, number>
  smp?: number
  smpVm?: Record<number, number>
  /**
   * Real network tools in every VM (iproute2, tcpdump, iperf3, nft/iptables,
   * ethtool, socat, iputils ping), the kernel modules they need, and ssh
   * (dropbear, a key per cluster). Default false: the base image is busybox only.
   */
  tools?: boolean
  /**
   * A standard xcluster topology (xnet, dual-path, multihop, ...): its option
   * defaults apply under yours, the tools are on, and each VM sets up its
   * addresses, routes, forwarding and NAT at boot.
   */
  topology?: string
  /**
   * Impairments per VM number and net, applied once the VMs are up (and
   * changeable with vm.link(net).impair()); they need `tools: true`.
   */
  impairments?: Record<number, Record<number, Impairment>>
  /**
   * Run the cluster across (simulated) hosts, e.g. { a: [1, 201], b: [2] }:
   * bridge mode, each host its own namespace with its own bridges, each net's
   * bridges joined between hosts by VXLAN (one VNI per net). VMs not listed
   * run on the first host, which also has the host side (192.168.0.250).
   */
  hosts?: Record<string, number[]>
  /** Overlays applied to every VM, in the order given. */
  overlays?: string[]
  /** Where an overlay given by name is looked up (default: $XCLUSTER_OVLPATH, colon-separated). */
  ovlPath?: string[]
  /** Overlays per role or per VM number, applied after the common ones. */
  overlaysRole?: Partial<Record<Role, string[]>>
  overlaysVm?: Record<number, string[]>
  network?: NetworkMode | CustomNetwork
  accel?: Accel
  /** Extra kernel command line for every VM, and per VM (`__append`, `__appendNNN`). */
  append?: string
  appendVm?: Record<number, string>
  /** IPv6 prefix of the std addresses (default `1000::1`). */
  prefix?: string
  /** Where the image and state live (default `$XCLUSTER_HOME` or `~/.cache/xcluster`). */
  home?: string
  /** Kernel image path (default: the one `npm run setup` fetched; `$XCLUSTER_KERNEL`). */
  kernel?: string
  /** Modules directory of that kernel (`lib/modules/<version>`); `$XCLUSTER_MODULES`. */
  modules?: string
  /** Bound on one VM's boot to telnet-ready, ms (default 90 s under TCG, 30 s with KVM). */
  bootTimeout?: number
  /** How many VMs boot at once (default: adapts to cores and host load). */
  bootConcurrency?: number
  /**
   * TCG translation cache per VM, MiB (QEMU's default grows to about 50 MiB
   * per booted VM). 24 cuts an idle VM's RSS from about 220 to 192 MiB and
   * costs about 0.1 s of boot: for clusters of 100 VMs. Ignored with KVM.
   */
  tbSize?: number
  /** Replace the start procedure (xcluster's XCLUSTER_HOOK); see StartContext. */
  start?: CustomStart
  /** Progress lines while VMs boot (default: none in the library, on in `xc`). */
  onProgress?: (event: ProgressEvent) => void
}

export interface ProgressEvent {
  kind: 'booting' | 'ready' | 'failed' | 'stopping'
  vm: string
  ready: number
  total: number
  elapsedMs: number
}

export const DEFAULTS = {
  nvm: 4,
  nrouters: 2,
  ntesters: 0,
  netsVm: [0, 1],
  netsRouter: [0, 1, 2],
  netsTester: [0, 2],
  mem: 128,
  smp: 1,
  prefix: '1000::1',
  accel: 'auto' as Accel,
  network: 'user' as NetworkMode,
}

export const LIMITS = {
  nvm: [1, 200],
  nrouters: [0, 20],
  ntesters: [0, 20],
  vm: [1, 240],
  net: [0, 254],
  memMin: 80,
  memMax: 16384,
  smp: [1, 64],
  maxNics: 16,
} as const

/** The role a VM number has (1-200 node, 201-220 router, 221-240 tester). */
export function roleOf(vm: number): Role {
  if (vm <= 200) return 'node'
  if (vm <= 220) return 'router'
  return 'tester'
}

/** Options with every default filled in and every problem checked. */
export interface ClusterSpec {
  name: string
  vms: number[]
  netsVm: number[]
  netsRouter: number[]
  netsTester: number[]
  nets: Record<number, number[]>
  mem: number
  memVm: Record<number, number>
  smp: number
  smpVm: Record<number, number>
  tools: boolean
  topology?: string
  impairments: Record<number, Record<number, Impairment>>
  hosts?: Record<string, number[]>
  overlays: string[]
  overlaysRole: Partial<Record<Role, string[]>>
  overlaysVm: Record<number, string[]>
  network: NetworkMode
  netSetup?: NetSetup
  accel: Accel
  append: string
  appendVm: Record<number, string>
  prefix: string
  bootTimeout?: number
  bootConcurrency?: number
  tbSize?: number
  start?: CustomStart
}

const show = (v: unknown): string => {
  if (typeof v === 'number' && !Number.isFinite(v)) return `\`${String(v)}\``
  if (v === undefined) return '`undefined`'
  // A string that reads like a number says it is a string: `"4"` is not 4.
  if (typeof v === 'string') {
    if (v === '') return '`""` (an empty string)'
    return /^\s*[-+]?\d+(\.\d+)?\s*$/.test(v) ? `\`${JSON.stringify(v)}\` (a string)` : `\`${v}\``
  }
  try {
    return `\`${JSON.stringify(v)}\``
  } catch {
    return `\`${String(v)}\``
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)

const KNOWN = new Set<string>([
  'name', 'nvm', 'nrouters', 'ntesters', 'extraVms', 'netsVm', 'netsRouter', 'netsTester', 'nets',
  'mem', 'memVm', 'smp', 'smpVm', 'overlays', 'overlaysRole', 'overlaysVm', 'network', 'accel',
  'append', 'appendVm', 'prefix', 'home', 'kernel', 'modules', 'bootTimeout', 'bootConcurrency', 'tbSize',
  'onProgress', 'start', 'tools', 'topology', 'impairments', 'hosts', 'ovlPath',
])

/**
 * Normalise and validate options. Returns the spec and every problem found;
 * `validateOptions` throws them together as one ClusterConfigError.
 */
export function checkOptions(o: ClusterOptions): { spec: ClusterSpec; problems: string[] } {
  const problems: string[] = []
  let opts = (o ?? {}) as ClusterOptions & Record<string, unknown>
  // A topology's defaults apply under the user's own options.
  let topology: string | undefined
  if (opts.topology !== undefined) {
    const t = typeof opts.topology === 'string' ? getTopology(opts.topology) : undefined
    if (!t) {
      problems.push(`Unknown topology ${show(opts.topology)}; known: ${Object.keys(TOPOLOGIES).sort().join(', ')}`)
    } else {
      topology = t.name
      if (opts.tools === false) problems.push(`topology ${t.name} needs the tools (iproute2, iptables) in the VMs: drop \`tools: false\``)
      const d = t.defaults(opts)
      opts = {
        ...d,
        ...opts,
        nets: { ...d.nets, ...opts.nets },
        memVm: { ...d.memVm, ...opts.memVm },
        smpVm: { ...d.smpVm, ...opts.smpVm },
        tools: true,
      } as typeof opts
    }
  }

  for (const key of Object.keys(opts)) {
    if (!KNOWN.has(key)) problems.push(`Unknown option \`${key}\`. Known options: ${[...KNOWN].join(', ')}`)
  }

  const int = (key: string, v: unknown, def: number, [lo, hi]: readonly [number, number]): number => {
    if (v === undefined) return def
    if (!isInt(v) || v < lo || v > hi) {
      problems.push(`Expected \`${key}\` to be an integer ${lo}-${hi}, got ${show(v)}`)
      return def
    }
    return v
  }

  const name = opts.name ?? 'default'
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(name)) {
    problems.push(`Expected \`name\` to be 1-32 letters, digits, \`-\` or \`_\`, got ${show(name)}`)
  }

  const nvm = int('nvm', opts.nvm, DEFAULTS.nvm, LIMITS.nvm)
  const nrouters = int('nrouters', opts.nrouters, DEFAULTS.nrouters, LIMITS.nrouters)
  const ntesters = int('ntesters', opts.ntesters, DEFAULTS.ntesters, LIMITS.ntesters)

  const netList = (key: string, v: unknown, def: number[]): number[] => {
    if (v === undefined) return def && [...def]
    if (!Array.isArray(v) || v.length === 0) {
      problems.push(`Expected \`${key}\` to be a non-empty list of net numbers, got ${show(v)}`)
      return def
    }
    let ok = true
    for (const n of v) {
      if (!isInt(n) || n < LIMITS.net[0] || n > LIMITS.net[1]) {
        problems.push(`Expected every net in \`${key}\` to be an integer ${LIMITS.net[0]}-${LIMITS.net[1]}, got ${show(n)}`)
        ok = false
      }
    }
    if (ok && v[0] !== 0) {
      problems.push(`\`${key}\` must start with net 0 (the internal net, eth0, that the harness reaches each VM on), got ${show(v)}`)
      ok = false
    }
    if (ok && new Set(v).size !== v.length) {
      problems.push(`\`${key}\` lists a net twice: ${show(v)}`)
      ok = false
    }
    if (ok && v.length > LIMITS.maxNics) {
      problems.push(`\`${key}\` has ${v.length} nets; at most ${LIMITS.maxNics} NICs per VM`)
      ok = false
    }
    return ok ? [...v] : def && [...def]
  }

  const netsVm = netList('netsVm', opts.netsVm, DEFAULTS.netsVm)
  const netsRouter = netList('netsRouter', opts.netsRouter, DEFAULTS.netsRouter)
  const netsTester = netList('netsTester', opts.netsTester, DEFAULTS.netsTester)

  const perVm = <T>(key: string, v: unknown, each: (k: string, val: unknown) => T | undefined): Record<number, T> => {
    const out: Record<number, T> = {}
    if (v === undefined) return out
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(`Expected \`${key}\` to be an object keyed by VM number, got ${show(v)}`)
      return out
    }
    for (const [k, val] of Object.entries(v)) {
      const num = Number(k)
      if (!isInt(num) || num < LIMITS.vm[0] || num > LIMITS.vm[1]) {
        problems.push(`Expected the keys of \`${key}\` to be VM numbers ${LIMITS.vm[0]}-${LIMITS.vm[1]}, got \`${k}\``)
        continue
      }
      const r = each(`${key}[${k}]`, val)
      if (r !== undefined) out[num] = r
    }
    return out
  }

  const nets = perVm('nets', opts.nets, (k, val) => netList(k, val, undefined as unknown as number[]))
  for (const k of Object.keys(nets)) if (nets[Number(k)] === undefined) delete nets[Number(k)]

  const mem = int('mem', opts.mem, DEFAULTS.mem, [LIMITS.memMin, LIMITS.memMax])
  if (isInt(opts.mem) && opts.mem < LIMITS.memMin) {
    problems[problems.length - 1] += ` (this kernel does not boot with less than ${LIMITS.memMin} MiB)`
  }
  const memVm = perVm('memVm', opts.memVm, (k, val) => {
    if (!isInt(val) || val < LIMITS.memMin || val > LIMITS.memMax) {
      problems.push(`Expected \`${k}\` to be an integer ${LIMITS.memMin}-${LIMITS.memMax} (MiB; the kernel does not boot with less than ${LIMITS.memMin}), got ${show(val)}`)
      return undefined
    }
    return val
  })
  const smp = int('smp', opts.smp, DEFAULTS.smp, LIMITS.smp)
  const smpVm = perVm('smpVm', opts.smpVm, (k, val) => {
    if (!isInt(val) || val < LIMITS.smp[0] || val > LIMITS.smp[1]) {
      problems.push(`Expected \`${k}\` to be an integer ${LIMITS.smp[0]}-${LIMITS.smp[1]}, got ${show(val)}`)
      return undefined
    }
    return val
  })

  const pathList = (key: string, v: unknown): string[] => {
    if (v === undefined) return []
    if (!Array.isArray(v) || v.some((p) => typeof p !== 'string' || p === '')) {
      problems.push(`Expected \`${key}\` to be a list of overlay paths, got ${show(v)}`)
      return []
    }
    return [...v]
  }
  const overlays = pathList('overlays', opts.overlays)
  if (opts.ovlPath !== undefined) pathList('ovlPath', opts.ovlPath)
  const overlaysRole: Partial<Record<Role, string[]>> = {}
  if (opts.overlaysRole !== undefined) {
    if (typeof opts.overlaysRole !== 'object' || opts.overlaysRole === null) {
      problems.push(`Expected \`overlaysRole\` to be an object keyed by role, got ${show(opts.overlaysRole)}`)
    } else {
      for (const [role, list] of Object.entries(opts.overlaysRole)) {
        if (role !== 'node' && role !== 'router' && role !== 'tester') {
          problems.push(`Expected the keys of \`overlaysRole\` to be node, router or tester, got ${show(role)}`)
          continue
        }
        overlaysRole[role] = pathList(`overlaysRole.${role}`, list)
      }
    }
  }
  const overlaysVm = perVm('overlaysVm', opts.overlaysVm, (k, val) => pathList(k, val))

  let network: NetworkMode = DEFAULTS.network
  let netSetup: NetSetup | undefined
  const nw = opts.network as unknown
  if (nw === 'user' || nw === 'bridge') network = nw
  else if (nw === undefined) network = DEFAULTS.network
  else if (typeof nw === 'object' && nw !== null && 'netSetup' in nw) {
    const c = nw as CustomNetwork
    if (c.base !== undefined && c.base !== 'user' && c.base !== 'bridge') {
      problems.push(`Expected \`network.base\` to be 'user' or 'bridge', got ${show(c.base)}`)
    } else network = c.base ?? 'user'
    if (typeof c.netSetup !== 'function' && (typeof c.netSetup !== 'string' || c.netSetup === '')) {
      problems.push(`Expected \`network.netSetup\` to be a function (vm, net, context) => string[] or the path of an executable, got ${show(c.netSetup)}`)
    } else netSetup = c.netSetup
  } else {
    problems.push(`Expected \`network\` to be 'user', 'bridge' or { base, netSetup }, got ${show(nw)}`)
  }

  let accel: Accel = DEFAULTS.accel
  if (opts.accel !== undefined) {
    if (opts.accel === 'auto' || opts.accel === 'kvm' || opts.accel === 'tcg') accel = opts.accel
    else problems.push(`Expected \`accel\` to be 'auto', 'kvm' or 'tcg', got ${show(opts.accel)}`)
  }

  const append = opts.append ?? ''
  if (typeof append !== 'string') problems.push(`Expected \`append\` to be a string, got ${show(append)}`)
  const appendVm = perVm('appendVm', opts.appendVm, (k, val) => {
    if (typeof val !== 'string') {
      problems.push(`Expected \`${k}\` to be a string, got ${show(val)}`)
      return undefined
    }
    return val
  })

  const prefix = opts.prefix ?? DEFAULTS.prefix
  if (typeof prefix !== 'string' || !/^[0-9a-fA-F:]+$/.test(prefix) || !isIPv6(`${prefix}:192.168.0.1`)) {
    problems.push(`Expected \`prefix\` to be an IPv6 prefix such as \`1000::1\` (the std address is <prefix>:192.168.k.v), got ${show(prefix)}`)
  }

  const positive = (key: string, v: unknown, max: number): number | undefined => {
    if (v === undefined) return undefined
    if (!isInt(v) || v < 1 || v > max) {
      problems.push(`Expected \`${key}\` to be an integer 1-${max}, got ${show(v)}`)
      return undefined
    }
    return v
  }
  const bootTimeout = positive('bootTimeout', opts.bootTimeout, 3_600_000)
  const bootConcurrency = positive('bootConcurrency', opts.bootConcurrency, 256)
  const tbSize = positive('tbSize', opts.tbSize, 4096)
  for (const key of ['home', 'kernel', 'modules'] as const) {
    if (opts[key] !== undefined && (typeof opts[key] !== 'string' || opts[key] === '')) {
      problems.push(`Expected \`${key}\` to be a path, got ${show(opts[key])}`)
    }
  }
  if (opts.tools !== undefined && typeof opts.tools !== 'boolean') {
    problems.push(`Expected \`tools\` to be true or false, got ${show(opts.tools)}`)
  }
  const impairments = perVm('impairments', opts.impairments, (k, val) => {
    if (typeof val !== 'object' || val === null) {
      problems.push(`Expected \`${k}\` to be an object keyed by net number, got ${show(val)}`)
      return undefined
    }
    const out: Record<number, Impairment> = {}
    for (const [net, imp] of Object.entries(val as Record<string, Impairment>)) {
      problems.push(...impairmentProblems(imp ?? {}, `\`${k}[${net}]\``))
      out[Number(net)] = imp
    }
    return out
  })
  if (Object.keys(impairments).length && opts.tools !== true) {
    problems.push('`impairments` need the tools in the VMs (tc and netem): set `tools: true`')
  }
  let hosts: Record<string, number[]> | undefined
  if (opts.hosts !== undefined) {
    const h = opts.hosts as unknown
    if (typeof h !== 'object' || h === null || Array.isArray(h) || Object.keys(h).length < 2) {
      problems.push(`Expected \`hosts\` to name at least two hosts, each with its VM numbers, e.g. { a: [1], b: [2] }, got ${show(h)}`)
    } else {
      hosts = {}
      const seen = new Map<number, string>()
      for (const [name, list] of Object.entries(h as Record<string, unknown>)) {
        if (!/^[a-z][a-z0-9]{0,7}$/.test(name)) problems.push(`Expected host names of 1-8 lower-case letters and digits (they name namespaces), got \`${name}\``)
        if (!Array.isArray(list) || list.some((v) => !isInt(v))) {
          problems.push(`Expected \`hosts.${name}\` to be a list of VM numbers, got ${show(list)}`)
          continue
        }
        for (const v of list as number[]) {
          if (seen.has(v)) problems.push(`vm-${String(v).padStart(3, '0')} is on two hosts: ${seen.get(v)} and ${name}`)
          seen.set(v, name)
        }
        hosts[name] = [...(list as number[])]
      }
    }
    if (opts.network !== 'bridge') problems.push("`hosts` needs network: 'bridge' (each host is a namespace with bridges joined by VXLAN)")
  }
  if (opts.start !== undefined && typeof opts.start !== 'function') {
    problems.push(`Expected \`start\` to be a function (ctx: StartContext) => Promise<void>, got ${show(opts.start)}`)
  }
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    problems.push(`Expected \`onProgress\` to be a function, got ${show(opts.onProgress)}`)
  }

  // The VM numbers: nodes 1..nvm, routers 201.., testers 221.., plus extras.
  const vms = new Set<number>()
  for (let i = 1; i <= nvm; i++) vms.add(i)
  for (let i = 1; i <= nrouters; i++) vms.add(200 + i)
  for (let i = 1; i <= ntesters; i++) vms.add(220 + i)
  if (opts.extraVms !== undefined) {
    if (!Array.isArray(opts.extraVms)) problems.push(`Expected \`extraVms\` to be a list of VM numbers, got ${show(opts.extraVms)}`)
    else {
      for (const v of opts.extraVms) {
        if (!isInt(v) || v < LIMITS.vm[0] || v > LIMITS.vm[1]) {
          problems.push(`Expected every VM in \`extraVms\` to be an integer ${LIMITS.vm[0]}-${LIMITS.vm[1]}, got ${show(v)}`)
        } else if (vms.has(v)) {
          problems.push(`\`extraVms\` lists vm-${String(v).padStart(3, '0')} twice or again after the counts`)
        } else vms.add(v)
      }
    }
  }

  if (hosts) {
    for (const [name, list] of Object.entries(hosts)) {
      for (const v of list) if (!vms.has(v)) problems.push(`\`hosts.${name}\` lists vm-${String(v).padStart(3, '0')}, which is not in the cluster`)
    }
  }

  const spec: ClusterSpec = {
    name: typeof name === 'string' ? name : 'default',
    vms: [...vms].sort((a, b) => a - b),
    netsVm, netsRouter, netsTester, nets,
    mem, memVm, smp, smpVm,
    tools: opts.tools === true,
    topology,
    impairments,
    hosts,
    overlays, overlaysRole, overlaysVm,
    network, netSetup, accel,
    append: typeof append === 'string' ? append : '',
    appendVm,
    prefix: typeof prefix === 'string' ? prefix : DEFAULTS.prefix,
    bootTimeout, bootConcurrency, tbSize,
    start: typeof opts.start === 'function' ? opts.start : undefined,
  }
  return { spec, problems }
}

/** The net list of VM `vm` under `spec` (per-VM override, else its role's). */
export function netsOf(spec: Pick<ClusterSpec, 'nets' | 'netsVm' | 'netsRouter' | 'netsTester'>, vm: number): number[] {
  const own = spec.nets[vm]
  if (own) return own
  const role = roleOf(vm)
  return role === 'node' ? spec.netsVm : role === 'router' ? spec.netsRouter : spec.netsTester
}
