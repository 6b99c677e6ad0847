// The per-cluster state directory: every host resource a cluster makes is
// recorded here before it is made, so that a later cleanup can remove what a
// killed run left, by recorded id, never by name pattern. The record is
// written whole or not at all (durable.ts), and the directory appears with
// its record in it (made under a temporary name, then renamed): a directory
// `run/<id>` whose record cannot be read is damage, never a start or a stop
// in progress, and is treated as a dead cluster of unknown shape (damaged.ts).
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { DiskWriteError } from '../errors.ts'
import type { NetworkMode } from '../plan/spec.ts'
import type { ClusterPlan } from '../plan/plan.ts'
import { fsyncDir, writeFileDurable } from './durable.ts'
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
  /** QEMU's own output (stderr). */
  qemuLog?: string
  /** The cluster's state directory (its secret, its ssh keys). */
  dir?: string
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

/** The name of a cluster's state directory under run/: its id. */
export const CLUSTER_ID = /^[0-9a-f]{8}$/

/** The record in `dir`, or why it cannot be read (missing, torn, not JSON, not a record of this directory). */
export function readRecord(dir: string): { record: StateRecord } | { damaged: string } {
  let bytes: Buffer
  try {
    bytes = readFileSync(join(dir, 'state.json'))
  } catch (e) {
    return { damaged: `its record state.json cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }
  }
  let r: StateRecord
  try {
    r = JSON.parse(bytes.toString('utf8')) as StateRecord
  } catch (e) {
    return { damaged: `its record state.json is not whole JSON (${bytes.length} bytes: ${(e as Error).message.split('\n')[0].replace(/[^\x20-\x7e]/g, '?')})` }
  }
  const id = dir.split('/').at(-1)
  const ok = r !== null && typeof r === 'object' && r.version === 1 && r.id === id && typeof r.name === 'string' &&
    typeof r.owner?.pid === 'number' && r.vms !== null && typeof r.vms === 'object' && typeof r.network === 'string'
  return ok ? { record: { ...r, dir } } : { damaged: `its record state.json is JSON but not a cluster record of ${id} (${bytes.length} bytes)` }
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

  /**
   * Make the directory (0700) with its record (its owner: this process) and
   * the cluster's secret in it, under a temporary name first: it appears
   * whole or not at all. A full disk is a DiskWriteError, and leaves nothing.
   */
  static create(home: string, name: string, network: NetworkMode, detached: boolean): StateDir {
    const id = newClusterId()
    const run = runDir(home)
    const dir = join(run, id)
    const tmp = join(run, `.new-${id}-${process.pid}`)
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
    try {
      mkdirSync(run, { recursive: true, mode: 0o700 })
      mkdirSync(tmp, { mode: 0o700 })
      writeFileDurable(join(tmp, 'state.json'), JSON.stringify(rec, null, 2) + '\n')
      writeFileDurable(join(tmp, SECRET_FILE), randomBytes(16).toString('hex') + '\n')
      renameSync(tmp, dir)
      fsyncDir(run)
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true })
      // Named by where the record would have been (the temporary name is gone).
      throw new DiskWriteError(join(dir, 'state.json'), e instanceof DiskWriteError ? e.cause : e)
    }
    return new StateDir(dir, rec)
  }

  /** The cluster whose state directory is `dir` (its record read there, unless given); throws when the record cannot be read (see readRecord). */
  static open(dir: string, record?: StateRecord): StateDir {
    if (record) return new StateDir(dir, record)
    const r = readRecord(dir)
    if ('damaged' in r) throw new Error(`${dir}: ${r.damaged}`)
    return new StateDir(dir, r.record)
  }

  /**
   * Change the record and write it whole (durable.ts). A record made before
   * its resource: when this throws (DiskWriteError), do not make the resource.
   */
  update(fn: (r: StateRecord) => void): void {
    fn(this.record)
    this.save()
  }

  /**
   * The same, for bookkeeping that must not stop a teardown (stoppedAt, a
   * removed resource's record): the change stays in memory, and a failure
   * to write it is returned instead of thrown. What the disk keeps then
   * records more than is left, which a later cleanup finds gone.
   */
  tryUpdate(fn: (r: StateRecord) => void): Error | undefined {
    try {
      this.update(fn)
      return undefined
    } catch (e) {
      return e as Error
    }
  }

  private save(): void {
    writeFileDurable(join(this.dir, 'state.json'), JSON.stringify(this.record, null, 2) + '\n')
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts)
  }
}

/** A state directory whose record cannot be read: a cluster whose shape is unknown. */
export interface DamagedState {
  id: string
  dir: string
  /** Why its record cannot be read. */
  reason: string
}

/** Every cluster under `home`: those whose record reads (`states`), and the damaged (`damaged`). */
export function scanStates(home: string): { states: StateDir[]; damaged: DamagedState[] } {
  const run = runDir(home)
  const states: StateDir[] = []
  const damaged: DamagedState[] = []
  if (!existsSync(run)) return { states, damaged }
  for (const id of readdirSync(run)) {
    if (!CLUSTER_ID.test(id)) continue
    const dir = join(run, id)
    const r = readRecord(dir)
    // Gone since the listing (stopped meanwhile): nothing.
    if ('damaged' in r) {
      if (existsSync(dir)) damaged.push({ id, dir, reason: r.damaged })
    } else states.push(StateDir.open(dir, r.record))
  }
  return { states, damaged }
}

/** Every state directory under `home` whose record reads (the damaged ones: scanStates). */
export function listStates(home: string): StateDir[] {
  return scanStates(home).states
}

/**
 * Remove the state directory `dir` in one step for its readers: renamed to
 * `.gone-<id>-<pid>` first, then removed, so that `run/<id>` is never seen
 * half-removed (which would read as damage).
 */
export function removeStateDir(dir: string): boolean {
  const parts = dir.split('/')
  const trash = [...parts.slice(0, -1), `.gone-${parts.at(-1)}-${process.pid}`].join('/')
  try {
    rmSync(trash, { recursive: true, force: true })
    renameSync(dir, trash)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw e
  }
  // The record goes last: what cannot be removed (a busy or immutable file)
  // puts the directory back under its id, its record whole, so the cluster
  // stays listed and the next cleanup finishes the job.
  try {
    for (const f of readdirSync(trash)) if (f !== 'state.json') rmSync(join(trash, f), { recursive: true, force: true })
  } catch (e) {
    try {
      renameSync(trash, dir)
    } catch {
      // Left as .gone-*: the sweep of dead temporaries finds it.
    }
    throw e
  }
  rmSync(trash, { recursive: true, force: true })
  return true
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
