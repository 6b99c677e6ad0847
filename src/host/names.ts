// Names of the clusters that outlive their process (`xc start`, a fixture's
// kept cluster): unique in a home for the life of the cluster, because `xc
// ... --name=x` must mean one cluster. A name is a symlink
// <home>/names/<name> -> <id>, made and taken over only under a flock
// (dir-lock.ts), so that two starts of one name cannot both pass: the second
// fails at once with ClusterNameTakenError naming the first. The name of a
// cluster that is gone (its owner and VMs dead, or its record damaged) is
// taken over. Clusters owned by a process (a test's) share names freely: the
// Vitest files of a run all call theirs `default`, side by side.
import { mkdirSync, readdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { ClusterNameTakenError } from '../errors.ts'
import { withDirLock } from './dir-lock.ts'
import { runDir } from './home.ts'
import { fsyncDir } from './durable.ts'
import { clusterAlive, readRecord } from './state-dir.ts'

/** Beside run/ (not in it: run/ has the clusters' directories only, and is empty when none is left). */
export function namesDir(home: string): string {
  return join(home, 'names')
}

/** The id of the cluster that holds `name` in `home`, if any (it may be dead: see nameTakenBy). */
export function nameHolder(home: string, name: string): string | undefined {
  try {
    return readlinkSync(join(namesDir(home), name))
  } catch {
    return undefined
  }
}

/** The names that cluster `id` holds (none for a cluster owned by a process). */
export function namesOf(home: string, id: string): string[] {
  try {
    return readdirSync(namesDir(home)).filter((n) => !n.startsWith('.') && nameHolder(home, n) === id)
  } catch {
    return []
  }
}

/** True when cluster `id` of `home` still lives: its record reads and says so. A damaged or missing one does not. */
function lives(home: string, id: string): boolean {
  const r = readRecord(join(runDir(home), id))
  return 'record' in r && clusterAlive(r.record)
}

/** The id of the live cluster that holds `name`, if any (without the lock: a check before the atomic take). */
export function nameTakenBy(home: string, name: string): string | undefined {
  const holder = nameHolder(home, name)
  return holder !== undefined && lives(home, holder) ? holder : undefined
}

/** Take `name` for cluster `id`, or throw ClusterNameTakenError naming the live cluster that has it. */
export async function takeName(home: string, name: string, id: string): Promise<void> {
  const dir = namesDir(home)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  await withDirLock(join(dir, '.lock'), async () => {
    const link = join(dir, name)
    const holder = nameHolder(home, name)
    if (holder !== undefined && holder !== id) {
      if (lives(home, holder)) throw new ClusterNameTakenError(name, holder)
      unlinkSync(link)
    }
    if (holder !== id) symlinkSync(id, link)
    fsyncDir(dir)
  }, 60_000, 'the lock of cluster names')
}

/** Let go of every name cluster `id` holds (when it is removed). */
export async function releaseNames(home: string, id: string): Promise<void> {
  // Only the cluster's own start makes a link to its id: none now, none later.
  if (!namesOf(home, id).length) return
  const dir = namesDir(home)
  await withDirLock(join(dir, '.lock'), async () => {
    for (const n of namesOf(home, id)) unlinkSync(join(dir, n))
  }, 60_000, 'the lock of cluster names')
}
