// The snapshots of a home on disk: XCLUSTER_HOME/snapshots/<key>/ (0700: the
// meta holds the saving cluster's secret) with each VM's device state and
// RAM file, the initramfs and meta.json; found, listed, removed, pruned to a
// bound, and committed whole (a temporary directory renamed into place under
// the snapshot lock) or not at all.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { withDirLock } from '../../host/dir-lock.ts'
import { fsyncDir, writeFileDurable } from '../../host/durable.ts'
import { snapshotsDir } from '../../host/home.ts'

export interface SnapshotMeta {
  version: 1
  key: string
  /** The cluster name it was saved from (for xc snapshot list). */
  name: string
  createdAt: string
  usedAt: string
  /** Per VM, the secret of the cluster that saved it: a restored VM's telnet login asks for it until it is re-keyed. */
  secrets: Record<string, string>
  qemu: string
  vms: string[]
  bytes: number
  /** Set (in a listing only) when the snapshot's meta.json cannot be read: why. It is never restored from; prune removes it. */
  damaged?: string
}

/** A snapshot found for a start: its directory and what it says of itself. */
export interface Snapshot {
  dir: string
  meta: SnapshotMeta
}

/** The default bound on the snapshots of a home, MiB (XCLUSTER_SNAPSHOT_MAX_MB). */
export const SNAPSHOT_MAX_MB = 8192

export { snapshotsDir }

/** The file of VM `vm`'s RAM in snapshot directory `dir` (sparse: pages never written are holes). */
export function ramFile(dir: string, vm: string): string {
  return join(dir, `${vm}.ram`)
}

/** The file of VM `vm`'s saved state in snapshot directory `dir`. */
export function stateFile(dir: string, vm: string): string {
  return join(dir, `${vm}.state`)
}

function readMeta(dir: string): SnapshotMeta | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as SnapshotMeta
    return m && typeof m === 'object' && typeof m.key === 'string' && Array.isArray(m.vms) && typeof m.usedAt === 'string' ? m : undefined
  } catch {
    return undefined
  }
}

/** What a listing says of a snapshot directory whose meta cannot be read: its key (the directory's name) and the disk its files take. */
function damagedMeta(dir: string): SnapshotMeta {
  const key = dir.split('/').at(-1)!
  let bytes = 0
  try {
    for (const f of readdirSync(dir)) bytes += statSync(join(dir, f)).blocks * 512
  } catch {
    // removed meanwhile
  }
  const why = existsSync(join(dir, 'meta.json')) ? 'its meta.json cannot be read' : 'it has no meta.json'
  return { version: 1, key, name: '?', createdAt: '', usedAt: '', secrets: {}, qemu: '', vms: [], bytes, damaged: why }
}

/** The snapshot under `key`, when its meta and initrd are there and it has every VM of `vms` (each VM's files are looked for when it boots); its use is recorded. */
export function findSnapshot(home: string, key: string, vms: string[]): Snapshot | undefined {
  const dir = join(snapshotsDir(home), key)
  const meta = readMeta(dir)
  if (!meta || meta.key !== key || !meta.secrets || !existsSync(join(dir, 'initrd'))) return undefined
  if (!vms.every((vm) => meta.vms.includes(vm))) return undefined
  meta.usedAt = new Date().toISOString()
  try {
    writeFileDurable(join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n')
  } catch {
    // The time of use orders the pruning only: on a full disk the old meta stays, whole.
  }
  return { dir, meta }
}

/** Every snapshot of `home`, newest use first; the damaged (meta unreadable) last. */
export function listSnapshots(home: string): Snapshot[] {
  const root = snapshotsDir(home)
  if (!existsSync(root)) return []
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.') && d.isDirectory())
    .map((d) => ({ dir: join(root, d.name), meta: readMeta(join(root, d.name)) ?? damagedMeta(join(root, d.name)) }))
    .sort((a, b) => b.meta.usedAt.localeCompare(a.meta.usedAt))
}

/** Remove the snapshot under `key` (a prefix of it is enough when it names one). Returns the keys removed. */
export function removeSnapshot(home: string, key: string): string[] {
  const hits = listSnapshots(home).filter((s) => s.meta.key.startsWith(key))
  if (hits.length !== 1) return []
  rmSync(hits[0].dir, { recursive: true, force: true })
  return [hits[0].meta.key]
}

/** Remove the least recently used snapshots until the rest fit in `maxMb`; also what a killed save left. Returns the keys removed. */
export async function pruneSnapshots(home: string, maxMb = Number(process.env.XCLUSTER_SNAPSHOT_MAX_MB ?? SNAPSHOT_MAX_MB)): Promise<string[]> {
  const root = snapshotsDir(home)
  if (!existsSync(root)) return []
  return withDirLock(join(root, '.lock'), async () => {
    for (const d of readdirSync(root).filter((d) => d.startsWith('.tmp-'))) {
      const pid = Number(d.split('-').at(-1))
      if (!pid || !existsSync(`/proc/${pid}`)) rmSync(join(root, d), { recursive: true, force: true })
    }
    const removed: string[] = []
    let total = 0
    for (const s of listSnapshots(home)) {
      total += s.meta.bytes
      // A damaged one is never restored from: it goes whatever the bound.
      if (s.meta.damaged || total > maxMb * 1048576) {
        rmSync(s.dir, { recursive: true, force: true })
        removed.push(s.meta.key)
      }
    }
    return removed
  }, 60_000, 'the snapshot lock')
}

/** On disk: the allocated blocks of `meta`'s VMs' files and the initramfs in `dir` (the RAM files are sparse). */
function bytesIn(dir: string, meta: SnapshotMeta): number {
  const size = (f: string): number => (existsSync(f) ? statSync(f).blocks * 512 : 0)
  return meta.vms.reduce((n, vm) => n + size(stateFile(dir, vm)) + size(ramFile(dir, vm)), size(join(dir, 'initrd')))
}

/**
 * Put what was saved into `tmp` (`vms`' files; the initramfs too when new)
 * under `key` with `meta`: a new snapshot appears with its meta, whole
 * (renamed into place), or not at all; into an existing one (`into`), the
 * VMs' files are moved in and its meta rewritten. Under the snapshot lock.
 */
export async function commitSnapshot(home: string, key: string, tmp: string, vms: string[], meta: SnapshotMeta, into: boolean): Promise<Snapshot> {
  const root = snapshotsDir(home)
  const dir = join(root, key)
  if (!into) writeFileDurable(join(tmp, 'meta.json'), JSON.stringify({ ...meta, bytes: bytesIn(tmp, meta) }, null, 2) + '\n')
  let done = meta
  await withDirLock(join(root, '.lock'), async () => {
    if (into && existsSync(dir)) {
      for (const vm of vms) for (const f of [stateFile, ramFile]) renameSync(f(tmp, vm), f(dir, vm))
      done = { ...meta, bytes: bytesIn(dir, meta) }
      writeFileDurable(join(dir, 'meta.json'), JSON.stringify(done, null, 2) + '\n')
    } else {
      rmSync(dir, { recursive: true, force: true })
      done = { ...meta, bytes: bytesIn(tmp, meta) }
      if (into) writeFileDurable(join(tmp, 'meta.json'), JSON.stringify(done, null, 2) + '\n')
      renameSync(tmp, dir)
      fsyncDir(root)
    }
  }, 60_000, 'the snapshot lock')
  return { dir, meta: done }
}
