// Cluster options as the user writes them, and the one place they are
// normalised: checkOptions composes the checks that live beside their
// features (networking in ../net/options.ts, topologies in
// ../topology/apply.ts, impairments in ./faults.ts, overlays and packages in
// ./list-options.ts, per-VM nets, memory and kernel lines in ./vm-options.ts, links
// in ./link-options.ts, budgets in ./budget-options.ts) and returns
// the spec with every problem found. Pure: the host's part of the
// validation (programs, paths, rights) is ./validate.ts.
import type { Logger } from '../log.ts'
import { isIPv6 } from 'node:net'
import { Checker, didYouMean, isInt, show } from '../pure/check.ts'
import { checkBudgetScale, checkBudgets } from './budget-options.ts'
import type { Budgets } from '../plan/budgets.ts'
import type { Impairment } from '../plan/impairment.ts'
import { checkLinks, checkStdAddresses } from './link-options.ts'
import { DEFAULTS, LIMITS, netsOf, vmName, type Accel, type ClusterSpec, type NetworkMode, type ProgressEvent, type Role, type UserNets } from '../plan/spec.ts'
import { checkHosts, checkNetwork, type CustomNetwork } from '../net/options.ts'
import { checkAppend, checkPerVm, vmNumbers } from './vm-options.ts'
import { applyTopology } from '../topology/apply.ts'
import { checkImpairments } from './faults.ts'
import { checkOverlays, checkPackages } from './list-options.ts'
import type { CustomStart } from './start-context.ts'

export type { CustomNetwork }

/** One ssh host of `hosts`. */
export interface SshHostOptions {
  /** `user@address` (the user must be root there). */
  ssh: string
  /** sshd's port (22). */
  port?: number
  /** A private key file (else the ssh agent, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa). */
  key?: string
  /** A known_hosts file with the host's key (else ~/.ssh/known_hosts, then /etc/ssh/ssh_known_hosts). */
  knownHosts?: string
  /** The VMs that run there; the others are placed by the hosts' cores and memory. */
  vms?: number[]
  /** The harness's directory there (default /var/tmp/xcluster): images by hash in cache/, each cluster's files in run/. */
  dir?: string
  /** The address the other hosts reach this one at for VXLAN (default: the one its sshd answered on). */
  underlay?: string
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
  /**
   * Point-to-point links between two VMs, e.g. [[201, 203], [202, 203]]:
   * link i is a net of its own, 200 + i, with a NIC on each of the two VMs
   * after their other nets (`cluster.linkNet(201, 203)` tells which).
   */
  links?: Array<[number, number]>
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
   * Give every NIC beyond eth0 the std addresses of its net at boot
   * (192.168.k.v/24 and <prefix>:192.168.k.v/120). Default false: the base
   * image sets up net 0 only, the rest is left to overlays or a topology.
   * The Vitest fixture turns it on unless a topology is given.
   */
  stdAddresses?: boolean | number[]
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
   *
   * Or real machines over ssh, e.g. { a: { ssh: 'root@10.0.0.2', vms: [1] },
   * b: { ssh: 'root@10.0.0.3', port: 2222, key: '~/.ssh/lab' } }: each host's
   * VMs, bridges and VXLAN endpoints run there (see the README, "Hosts over
   * ssh"); VMs a host does not list are placed by the hosts' cores and memory.
   */
  hosts?: Record<string, number[] | SshHostOptions>
  /**
   * Debian packages in every VM (e.g. ['frr', 'keepalived']), resolved with
   * their dependencies against the host's Debian release, downloaded once
   * into a cache and mounted read-only over the VM's root: the programs run
   * as installed, at their Debian paths. Packages bring the tools disk with
   * them (its kernel modules are the ones the programs load).
   */
  packages?: string[]
  /** Debian packages per role or per VM number, added to the common ones. */
  packagesRole?: Partial<Record<Role, string[]>>
  packagesVm?: Record<number, string[]>
  /** Overlays applied to every VM, in the order given. */
  overlays?: string[]
  /** Where an overlay given by name is looked up (default: $XCLUSTER_OVLPATH, colon-separated). */
  ovlPath?: string[]
  /** Overlays per role or per VM number, applied after the common ones. */
  overlaysRole?: Partial<Record<Role, string[]>>
  overlaysVm?: Record<number, string[]>
  network?: NetworkMode | CustomNetwork
  /**
   * Bridge mode in a user and network namespace of the cluster's own, made
   * without root (default: true when this process lacks CAP_NET_ADMIN, or
   * XCLUSTER_ROOTLESS=1). Needs unprivileged user namespaces and a
   * /dev/net/tun this user may open.
   */
  rootless?: boolean
  /**
   * User mode: `'private'` (default) runs the cluster's QEMUs in a network
   * namespace of its own, so that no other local user can reach its forwards
   * or read or inject a frame on its multicast nets 1+; `'shared'` puts them
   * on the host's loopback, as xcluster did (every local user can join the
   * groups). `XCLUSTER_USER_NETS=shared`. Where the host allows no namespace
   * to this user, the default falls back to shared and says so once.
   */
  userNets?: UserNets
  /**
   * Start from a snapshot: the first start of this configuration boots cold
   * and saves every VM at its ready point; later starts restore each VM from
   * it (about a second), re-keyed for the new cluster. `cluster.restore()`
   * goes back to it. Not with a custom `start` or net-setup hook.
   */
  snapshot?: boolean
  accel?: Accel
  /** Extra kernel command line for every VM, and per VM (`__append`, `__appendNNN`). */
  append?: string
  appendVm?: Record<number, string>
  /** IPv6 prefix of the std addresses (default `1000::1`). */
  prefix?: string
  /** Where the image and state live (default `$XCLUSTER_HOME` or `~/.cache/xcluster`). */
  home?: string
  /**
   * The kernel (`$XCLUSTER_KERNEL`): `'xcluster'` (default), the harness's own,
   * built by setup; `'debian'`, Debian's cloud kernel as packaged; the name of
   * one built with `xc kernel build --name=NAME`; or the path of a kernel file
   * (with a `/`: `./vmlinuz`), with `modules`.
   */
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
  /**
   * Wait budgets by name, ms, over the defaults (DEFAULT_BUDGETS: boot,
   * bgpSession, ospfAdjacency, vrrpFailover, ...), and names of your own:
   * the nominal time of the verbs' waits, e.g. { bgpSession: 90000 }.
   */
  budgets?: Budgets
  /** Wait budgets per VM number, over the cluster's. */
  budgetsVm?: Record<number, Budgets>
  /** What every budget is multiplied by: 'auto' (default; measured from the cluster's boots) or a fixed factor (XCLUSTER_BUDGET_SCALE). */
  budgetScale?: number | 'auto'
  /** Replace the start procedure (xcluster's XCLUSTER_HOOK); see StartContext. */
  start?: CustomStart
  /** Progress lines while VMs boot (default: none in the library, on in `xc`). */
  /** Where the cluster's lines go (default: stderr, at XCLUSTER_LOG's level: debug shows every host command). The Vitest fixture gives one that writes into the test's output. */
  logger?: Logger
  onProgress?: (event: ProgressEvent) => void
  /**
   * An rc script that exits non-zero, or a `/etc/init.d/*.rc` that is not
   * executable: `'report'` (the library's default) says so on stderr, naming
   * the VM, the script, its exit code and its last lines of output and
   * error, and the VM counts as ready; `'fail'` (the Vitest fixture's
   * default, `xc start --rc-failures=fail`) makes it a VmBootError instead.
   */
  rcFailures?: RcFailures
}

export type RcFailures = 'report' | 'fail'

/** Per-VM options: each key must be a VM of the cluster. */
const PER_VM_KEYS = ['nets', 'memVm', 'smpVm', 'appendVm', 'overlaysVm', 'packagesVm', 'impairments', 'budgetsVm'] as const

export const KNOWN_OPTIONS: readonly string[] = [
  'name', 'nvm', 'nrouters', 'ntesters', 'extraVms', 'netsVm', 'netsRouter', 'netsTester', 'nets', 'links',
  'mem', 'memVm', 'smp', 'smpVm', 'overlays', 'overlaysRole', 'overlaysVm', 'network', 'accel',
  'append', 'appendVm', 'prefix', 'home', 'kernel', 'modules', 'bootTimeout', 'bootConcurrency', 'tbSize',
  'onProgress', 'logger', 'start', 'tools', 'stdAddresses', 'topology', 'impairments', 'hosts', 'ovlPath',
  'packages', 'packagesRole', 'packagesVm', 'rootless', 'userNets', 'snapshot', 'rcFailures', 'budgets', 'budgetsVm', 'budgetScale',
]

function isLogger(l: unknown): l is Logger {
  return typeof l === 'object' && l !== null && ['debug', 'info', 'warn', 'error', 'child'].every((m) => typeof (l as Record<string, unknown>)[m] === 'function')
}

/**
 * Normalise and validate options. Returns the spec and every problem found;
 * `validateOptions` (./validate.ts) adds the host's problems and throws them
 * together as one ClusterConfigError. Paths are not resolved here.
 */
export function checkOptions(o: ClusterOptions): { spec: ClusterSpec<CustomStart>; problems: string[] } {
  const c = new Checker()
  const applied = applyTopology(c, (o ?? {}) as ClusterOptions & Record<string, unknown>)
  const opts = applied.opts
  for (const key of Object.keys(opts)) {
    if (KNOWN_OPTIONS.includes(key)) continue
    const near = didYouMean(key, KNOWN_OPTIONS)
    c.add(near ? `Unknown option \`${key}\`: did you mean \`${near}\`?` : `Unknown option \`${key}\`. Known options: ${KNOWN_OPTIONS.join(', ')}`)
  }
  const name = opts.name ?? 'default'
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(name)) {
    c.add(`Expected \`name\` to be 1-32 letters, digits, \`-\` or \`_\`, got ${show(name)}`)
  }
  const counts = {
    nvm: c.int('nvm', opts.nvm, DEFAULTS.nvm, LIMITS.nvm),
    nrouters: c.int('nrouters', opts.nrouters, DEFAULTS.nrouters, LIMITS.nrouters),
    ntesters: c.int('ntesters', opts.ntesters, DEFAULTS.ntesters, LIMITS.ntesters),
  }
  const netsVm = c.netList('netsVm', opts.netsVm, DEFAULTS.netsVm)!
  const netsRouter = c.netList('netsRouter', opts.netsRouter, DEFAULTS.netsRouter)!
  const netsTester = c.netList('netsTester', opts.netsTester, DEFAULTS.netsTester)!
  const { nets, memVm, smpVm, appendVm } = checkPerVm(c, opts)

  const mem = c.int('mem', opts.mem, DEFAULTS.mem, [LIMITS.memMin, LIMITS.memMax],
    isInt(opts.mem) && opts.mem < LIMITS.memMin ? ` (this kernel does not boot with less than ${LIMITS.memMin} MiB)` : '')
  const smp = c.int('smp', opts.smp, DEFAULTS.smp, LIMITS.smp)
  const overlays = checkOverlays(c, opts)
  const { network, netSetup } = checkNetwork(c, opts.network)

  let accel: Accel = DEFAULTS.accel
  if (opts.accel !== undefined) {
    if (opts.accel === 'auto' || opts.accel === 'kvm' || opts.accel === 'tcg') accel = opts.accel
    else c.add(`Expected \`accel\` to be 'auto', 'kvm' or 'tcg', got ${show(opts.accel)}`)
  }
  const append = c.string('append', opts.append, '')
  checkAppend(c, append, appendVm)
  const prefix = opts.prefix ?? DEFAULTS.prefix
  if (typeof prefix !== 'string' || !/^[0-9a-fA-F:]+$/.test(prefix) || !isIPv6(`${prefix}:192.168.0.1`)) {
    c.add(`Expected \`prefix\` to be an IPv6 prefix such as \`1000::1\` (the std address is <prefix>:192.168.k.v), got ${show(prefix)}`)
  }
  const bootTimeout = c.positive('bootTimeout', opts.bootTimeout, 3_600_000)
  const bootConcurrency = c.positive('bootConcurrency', opts.bootConcurrency, 256)
  const tbSize = c.positive('tbSize', opts.tbSize, 4096)
  for (const key of ['home', 'kernel', 'modules'] as const) {
    if (opts[key] !== undefined && (typeof opts[key] !== 'string' || opts[key] === '')) {
      c.add(`Expected \`${key}\` to be ${key === 'kernel' ? "a kernel's name (xcluster, debian, or one `xc kernel build` made) or a path" : 'a path'}, got ${show(opts[key])}`)
    }
  }
  if (opts.snapshot !== undefined && typeof opts.snapshot !== 'boolean') c.add(`Expected \`snapshot\` to be true or false, got ${show(opts.snapshot)}`)
  if (opts.snapshot === true && opts.start !== undefined) c.add('`snapshot` does not combine with a custom `start`: what it does is code, which the snapshot key cannot see')
  if (opts.snapshot === true && typeof opts.network === 'object' && opts.network !== null) c.add('`snapshot` does not combine with a net-setup hook: what it gives QEMU is not known before it runs')
  if (opts.rootless !== undefined && typeof opts.rootless !== 'boolean') c.add(`Expected \`rootless\` to be true or false, got ${show(opts.rootless)}`)
  if (opts.userNets !== undefined && opts.userNets !== 'private' && opts.userNets !== 'shared') c.add(`Expected \`userNets\` to be 'private' or 'shared', got ${show(opts.userNets)}`)
  if (opts.tools !== undefined && typeof opts.tools !== 'boolean') c.add(`Expected \`tools\` to be true or false, got ${show(opts.tools)}`)
  const packages = checkPackages(c, opts)
  const anyPackages = packages.packages.length > 0 || Object.values(packages.packagesRole).some((l) => l?.length) || Object.values(packages.packagesVm).some((l) => l.length)
  if (anyPackages && opts.tools === false) c.add('`packages` bring the tools disk (the kernel modules their programs load): drop `tools: false`')
  const tools = opts.tools === true || anyPackages
  const stdAddresses = checkStdAddresses(c, opts.stdAddresses)
  if (stdAddresses !== false && applied.topology) c.add(`\`stdAddresses\` and \`topology\` both set addresses: topology ${applied.topology} sets up its own, drop \`stdAddresses\``)
  const impairments = checkImpairments(c, opts.impairments, tools)
  const budgets = checkBudgets(c, 'budgets', opts.budgets) ?? {}
  const budgetsVm = c.perVm('budgetsVm', opts.budgetsVm, (k, val) => checkBudgets(c, k, val))
  const start = c.fn<CustomStart>('start', opts.start, 'a function (ctx: StartContext) => Promise<void>')
  const onProgress = c.fn<(e: ProgressEvent) => void>('onProgress', opts.onProgress, 'a function')
  const logger = opts.logger
  if (logger !== undefined && !isLogger(logger)) c.add(`Expected \`logger\` to be a Logger (debug, info, warn, error, child), got ${show(logger)}`)
  const vms = vmNumbers(c, counts, opts.extraVms)
  const given = { nets, netsVm, netsRouter, netsTester }
  const links = checkLinks(c, opts.links, vms, (vm) => netsOf(given, vm), new Set([...vms].flatMap((vm) => netsOf(given, vm))))
  // The user's own per-VM keys (a topology's defaults may name VMs that the user's counts leave out).
  c.vmKeysIn((o ?? {}) as Record<string, unknown>, PER_VM_KEYS, vms)
  const rcFailures = opts.rcFailures ?? 'report'
  if (rcFailures !== 'report' && rcFailures !== 'fail') c.add(`Expected \`rcFailures\` to be 'report' or 'fail', got ${show(rcFailures)}`)
  const { hosts, sshHosts } = checkHosts(c, opts.hosts, opts.network, vms)
  if (sshHosts && opts.snapshot === true) c.add('`snapshot` does not combine with ssh `hosts` yet: a snapshot is saved and restored on this machine')
  if (sshHosts && netSetup) c.add('a net-setup hook does not combine with ssh `hosts`: it runs on this machine, the networks are on the hosts')

  const spec: ClusterSpec<CustomStart> = {
    name: typeof name === 'string' ? name : 'default',
    vms: [...vms].sort((a, b) => a - b),
    netsVm, netsRouter, netsTester, nets, links,
    mem, memVm, smp, smpVm,
    tools,
    stdAddresses,
    topology: applied.topology,
    impairments,
    hosts,
    ...(sshHosts ? { sshHosts } : {}),
    ...overlays,
    ...packages,
    network, netSetup, accel,
    rootless: typeof opts.rootless === 'boolean' ? opts.rootless : undefined,
    userNets: opts.userNets === 'private' || opts.userNets === 'shared' ? opts.userNets : undefined,
    snapshot: opts.snapshot === true,
    rcFailures: rcFailures === 'fail' ? 'fail' : 'report',
    append, appendVm,
    prefix: typeof prefix === 'string' ? prefix : DEFAULTS.prefix,
    bootTimeout, bootConcurrency, tbSize,
    budgets, budgetsVm, budgetScale: checkBudgetScale(c, 'budgetScale', opts.budgetScale) ?? 'auto',
    start, onProgress,
    ...(isLogger(logger) ? { log: logger } : {}),
    home: typeof opts.home === 'string' && opts.home ? opts.home : '',
    kernel: typeof opts.kernel === 'string' && opts.kernel ? opts.kernel : undefined,
    modules: typeof opts.modules === 'string' && opts.modules ? opts.modules : undefined,
  }
  return { spec, problems: c.problems }
}
