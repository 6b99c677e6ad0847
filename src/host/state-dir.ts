// The per-cluster state directory: every host resource a cluster makes is
// recorded here before it is made, so that a later cleanup can remove what a
// killed run left, by recorded id, never by name pattern.
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { NetworkMode } from '../plan/spec.ts'
import type { ClusterPlan } from '../plan/plan.ts'
import { runDir } from './home.ts'
import { procStartTime, sameProcess } from './proc.ts'
import type { SshTarget } from './ssh-host.ts'

export interface ProcessRecord {
  pid: number
  startTime?: number
}

export interface VmRecord {
  num: number
  name: string
  console: string
  qmp: string
  pidfile: string
  process?: ProcessRecord
  startedAt?: string
  /** When its shell answered after a cold boot (not after a restore): with startedAt, its boot time, which scales the wait budgets. */
  readyAt?: string
  /** The ssh host its QEMU runs on (its pid and files are that host's); none: this machine. */
  host?: string
}

/** What a cluster makes on one ssh host, recorded before it is made: removed by its names there, by removeRemote. */
export interface RemoteHostRecord extends SshTarget {
  /** The cluster's directory there (QEMU's pid files, monitor sockets, logs). */
  dir: string
  /** Its network namespace there. */
  netns: string
  /** VXLAN devices made in the host's own namespace before they move into the cluster's. */
  links: string[]
  /** nftables tables (inet) in the host's own namespace: the filter on the cluster's VXLAN. */
  tables?: string[]
  /** Set when the host was lost during the run: why. */
  lost?: string
  /** What the start read there and a later attach needs: its VXLAN address and whether QEMU uses KVM. */
  underlay?: string
  kvm?: boolean
}

/** A long-lived host program of the cluster's own (see daemons.ts): recorded before it starts, its pid once it runs. */
export interface DaemonRecord extends Partial<ProcessRecord> {
  name: string
  argv: string[]
  log: string
}

export interface StateRecord {
  version: 1
  id: string
  name: string
  dir: string
  createdAt: string
  /** The process that started the cluster; a non-detached cluster dies with it. */
  owner: ProcessRecord
  /** Started by `xc start`: lives on after its owner exits. */
  detached: boolean
  network: NetworkMode
  portBlock?: number
  /** Network namespace made for the cluster (bridge mode). */
  netns?: string
  /** More namespaces of a cluster that spans simulated hosts (one per host, and the underlay). */
  netnsExtra?: string[]
  /** Bridge mode in a user namespace of the cluster's own, or private user-mode nets in one: the relay holds it; no namespace is named. */
  rootless?: boolean
  /** User mode: the QEMUs in a network namespace of the cluster's own, held by the relay ('private'), or on the host's loopback ('shared'). */
  userNets?: 'private' | 'shared'
  /** Rootless: the process holding each further namespace (simulated hosts, the underlay). */
  nsHolders?: Array<ProcessRecord & { ns: string }>
  /** What the cluster made on each ssh host (hosts: { a: { ssh } }); a record goes when its host has removed it. */
  remoteHosts?: Record<string, RemoteHostRecord>
  /** Relay into the namespace (bridge mode, private user-mode nets). */
  relay?: ProcessRecord & { socket: string }
  /** Daemons of the cluster's own: a switch started by a net-setup hook or a custom start (see daemons.ts). */
  daemons?: DaemonRecord[]
  /** The owner's reaper (see reaper.mjs): it removes the cluster when the owner dies. */
  reaper?: ProcessRecord
  /** Parent of a detached cluster's processes (see keeper.mjs). */
  keeper?: ProcessRecord & { socket: string }
  vms: Record<string, VmRecord>
  plan?: ClusterPlan
  /** Options as given (serialisable part), for scale-out by `xc`. */
  options?: Record<string, unknown>
  stoppedAt?: string
}

/** The file of a cluster's secret in its state directory (0600): telnet logins to its VMs and requests to its keeper need it. */
export const SECRET_FILE = 'secret'

/** The secret of the cluster whose state directory is `dir`. */
export function readSecret(dir: string): string {
  return readFileSync(join(dir, SECRET_FILE), 'utf8').trim()
}

/** A fresh cluster id: 8 hex digits. */
export function newClusterId(): string {
  return randomBytes(4).toString('hex')
}

export class StateDir {
  private constructor(
    readonly dir: string,
    private record: StateRecord,
  ) {}

  get id(): string {
    return this.record.id
  }

  get state(): Readonly<StateRecord> {
    return this.record
  }

  /** Make the directory (0700) and record its owner: this process. */
  static create(home: string, name: string, network: NetworkMode, detached: boolean): StateDir {
    const id = newClusterId()
    const dir = join(runDir(home), id)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const rec: StateRecord = {
      version: 1,
      id,
      name,
      dir,
      createdAt: new Date().toISOString(),
      owner: { pid: process.pid, startTime: procStartTime(process.pid) },
      detached,
      network,
      vms: {},
    }
    const s = new StateDir(dir, rec)
    s.save()
    writeFileSync(join(dir, SECRET_FILE), randomBytes(16).toString('hex') + '\n', { mode: 0o600 })
    return s
  }

  static open(dir: string): StateDir {
    return new StateDir(dir, JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as StateRecord)
  }

  /** Change the record and write it atomically (write + rename). */
  update(fn: (r: StateRecord) => void): void {
    fn(this.record)
    this.save()
  }

  private save(): void {
    const tmp = join(this.dir, `.state.json.${process.pid}.tmp`)
    writeFileSync(tmp, JSON.stringify(this.record, null, 2) + '\n', { mode: 0o600 })
    renameSync(tmp, join(this.dir, 'state.json'))
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts)
  }
}

/** Every state directory under `home`. */
export function listStates(home: string): StateDir[] {
  const run = runDir(home)
  if (!existsSync(run)) return []
  const out: StateDir[] = []
  for (const id of readdirSync(run)) {
    if (!/^[0-9a-f]{8}$/.test(id)) continue
    try {
      out.push(StateDir.open(join(run, id)))
    } catch {
      // A directory whose state.json is unreadable: half-made; cleanup handles it.
    }
  }
  return out
}

/** True when the cluster's owner still runs (or, detached, when a VM of it still runs). */
export function clusterAlive(s: StateRecord): boolean {
  if (s.stoppedAt) return false
  if (!s.detached) return sameProcess(s.owner.pid, s.owner.startTime)
  if (sameProcess(s.owner.pid, s.owner.startTime)) return true
  // A detached cluster on ssh hosts runs there until `xc stop`: this machine cannot see its QEMUs.
  if (Object.keys(s.remoteHosts ?? {}).length) return true
  return Object.values(s.vms).some((v) => !v.host && v.process && sameProcess(v.process.pid, v.process.startTime))
}
