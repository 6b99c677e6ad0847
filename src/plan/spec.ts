// The validated cluster specification: every default filled in, every
// problem checked (by ../cluster/options.ts). Pure data and what derives
// from it; the plan is built from it.
import type { Budgets } from './budgets.ts'
import type { Logger } from '../log.ts'
import type { Impairment } from './impairment.ts'
import { linkNetsOf, type Link } from './links.ts'
import type { NetSetup } from './net-setup.ts'
import { roleOf, type Accel, type NetworkMode, type Role } from './model.ts'

export * from './model.ts'

/** The option defaults a topology sets (xcluster's Envsettings); the user's own options win over these. */
export interface TopologyDefaults {
  nvm?: number
  nrouters?: number
  ntesters?: number
  netsVm?: number[]
  netsRouter?: number[]
  netsTester?: number[]
  nets?: Record<number, number[]>
  mem?: number
  memVm?: Record<number, number>
  smpVm?: Record<number, number>
}

/** A line of progress while VMs boot. */
export interface ProgressEvent {
  kind: 'booting' | 'ready' | 'failed' | 'stopping'
  vm: string
  ready: number
  total: number
  elapsedMs: number
}

/**
 * Options with every default filled in and every problem checked. Paths are
 * resolved (overlays absolute, the kernel and home as the environment gave
 * them), so nothing after validation reads the raw options or the
 * environment again. `S` is the type of a custom start (StartContext's).
 */
export interface ClusterSpec<S = unknown> {
  name: string
  vms: number[]
  netsVm: number[]
  netsRouter: number[]
  netsTester: number[]
  nets: Record<number, number[]>
  /** Point-to-point links: pair i is on net LINK_NET_BASE + i, a NIC on each VM after its other nets. */
  links: Link[]
  mem: number
  memVm: Record<number, number>
  smp: number
  smpVm: Record<number, number>
  tools: boolean
  /** Every NIC beyond eth0 gets the std addresses of its net at boot (true), or those on the nets listed (the others come up without one). */
  stdAddresses: boolean | number[]
  topology?: string
  impairments: Record<number, Record<number, Impairment>>
  hosts?: Record<string, number[]>
  /** The cluster's ssh hosts (hosts: { a: { ssh } }); `hosts` is then where each VM runs, complete once placed. */
  sshHosts?: Record<string, SshHostSpec>
  /** Debian packages for every VM, per role and per VM number (names as Debian spells them). */
  packages: string[]
  packagesRole: Partial<Record<Role, string[]>>
  packagesVm: Record<number, string[]>
  overlays: string[]
  overlaysRole: Partial<Record<Role, string[]>>
  overlaysVm: Record<number, string[]>
  network: NetworkMode
  netSetup?: NetSetup
  /** Bridge mode in a user namespace of the cluster's own (undefined until validation reads the host). */
  rootless?: boolean
  /** User mode: the QEMUs in a network namespace of the cluster's own ('private'), or on the host's loopback ('shared'); undefined until validation reads the host. */
  userNets?: UserNets
  /** Start from (and save) a snapshot of this configuration. */
  snapshot: boolean
  /** An rc script that failed at boot: said on stderr (`report`), or a VmBootError (`fail`). */
  rcFailures: 'report' | 'fail'
  accel: Accel
  append: string
  appendVm: Record<number, string>
  prefix: string
  bootTimeout?: number
  bootConcurrency?: number
  tbSize?: number
  /** Wait budgets by name, ms: the cluster's and per VM number, over DEFAULT_BUDGETS. */
  budgets: Budgets
  budgetsVm: Record<number, Budgets>
  /** What the budgets are multiplied by: 'auto' (measured from the boots) or a fixed factor. */
  budgetScale: number | 'auto'
  start?: S
  /** The harness's home (image and state). */
  home: string
  /** A kernel of the user's own and its modules directory, when given. */
  kernel?: string
  modules?: string
  onProgress?: (event: ProgressEvent) => void
  /** Where the cluster's lines go (default: stderr, at XCLUSTER_LOG's level). */
  log?: Logger
}

/** The Debian packages of VM `vm`: the common ones, its role's and its own, sorted, each once. */
export function packagesOf(spec: Pick<ClusterSpec, 'packages' | 'packagesRole' | 'packagesVm'>, vm: number): string[] {
  const all = [...spec.packages, ...(spec.packagesRole[roleOf(vm)] ?? []), ...(spec.packagesVm[vm] ?? [])]
  return [...new Set(all)].sort()
}

/** The net list of VM `vm` under `spec` (per-VM override, else its role's), then the nets of its links. */
export function netsOf(spec: Pick<ClusterSpec, 'nets' | 'netsVm' | 'netsRouter' | 'netsTester'> & { links?: Link[] }, vm: number): number[] {
  const own = spec.nets[vm]
  const role = roleOf(vm)
  const base = own ?? (role === 'node' ? spec.netsVm : role === 'router' ? spec.netsRouter : spec.netsTester)
  const links = linkNetsOf(spec.links ?? [], vm)
  return links.length ? [...base, ...links] : base
}

/** Where user mode's forwards and multicast nets live: a namespace of the cluster's own, or the host's loopback. */
export type UserNets = 'private' | 'shared'

/** One ssh host of a cluster, as validated. */
export interface SshHostSpec {
  user: string
  address: string
  port: number
  /** A private key file (else the agent, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa). */
  key?: string
  /** A known_hosts file with the host's key (else ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts). */
  knownHosts?: string
  /** Where the harness keeps its files there: `<dir>/cache` (images, by hash) and `<dir>/run/<cluster>-<host>`. */
  dir: string
  /** The address other hosts reach it at for VXLAN (default: the address its sshd was reached at). */
  underlay?: string
}

/** The directory on an ssh host when the options give none. */
export const DEFAULT_REMOTE_DIR = '/var/tmp/xcluster'
