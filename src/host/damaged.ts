// What is left without a whole record. A cluster whose record cannot be read
// (torn or overwritten by something else: the harness writes it whole) may
// still run: nothing says whose it is or whether its owner lives, so it is
// taken for a dead cluster whose shape is unknown, and removed by what names
// its id: the processes whose argv names its directory (QEMU, relays, the
// keeper) and those in its namespaces, the namespaces named after it, its
// port block, its name, and the directory. And what killed runs left with
// no record at all: temporary files and directories whose maker is gone.
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { runDir, snapshotsDir } from './home.ts'
import { namesOf, releaseNames } from './names.ts'
import { deleteNetns, netnsNamedAfter, netnsPids } from './netns.ts'
import { lockedBlocks, releasePortBlock } from './port-block.ts'
import { procAlive, procCmdline, processesNamingDir, waitGone } from './proc.ts'
import { removeStateDir, type DamagedState } from './state-dir.ts'

/** End what the damaged cluster `d` of `home` left, and remove its directory; one line per thing removed. A namespace that stays is a HostCommandError, and the directory stays with it. */
export async function removeDamagedCluster(home: string, d: DamagedState): Promise<string[]> {
  const removed: string[] = []
  const namespaces = netnsNamedAfter(d.id)
  const pids = new Set(processesNamingDir(d.dir))
  for (const ns of namespaces) for (const pid of await netnsPids(ns)) if (pid !== process.pid) pids.add(pid)
  // Named before any is killed: the keeper's death takes its QEMUs along at once.
  const named = [...pids].map((pid) => ({ pid, what: procCmdline(pid)?.[0]?.split('/').at(-1) ?? '?' }))
  for (const { pid, what } of named) {
    try {
      process.kill(pid, 'SIGKILL')
      removed.push(`process ${pid} (${what})`)
    } catch {
      // gone already
    }
  }
  // A killed QEMU frees its memory before it is gone: under load that took seconds.
  await Promise.all([...pids].map((pid) => waitGone(pid, 20_000)))
  for (const ns of namespaces) removed.push(await deleteNetns(ns, d.dir))
  for (const [block, owner] of lockedBlocks()) {
    if (owner.id === d.id && owner.home === home && (await releasePortBlock(block, d.id))) removed.push(`port block ${block}`)
  }
  for (const n of namesOf(home, d.id)) removed.push(`name ${n}`)
  await releaseNames(home, d.id)
  if (removeStateDir(d.dir)) removed.push(`state directory ${d.dir} (${d.reason})`)
  return removed
}

/** Where killed runs leave temporary files and directories: each name carries the pid of its maker. */
function tempPlaces(home: string): Array<{ dir: string; pid: RegExp }> {
  // A durable write's temp file (durable.ts): .<name>.<pid>.<6 hex>.tmp
  const durable = /^\..+\.(\d+)\.[0-9a-f]{6}\.tmp$/
  return [
    { dir: runDir(home), pid: /^\.(?:new|gone)-[0-9a-f]{8}-(\d+)$/ },
    { dir: runDir(home), pid: durable },
    { dir: snapshotsDir(home), pid: /^\.tmp-[0-9a-f]+-(\d+)$/ },
    { dir: join(home, 'packages', 'layers'), pid: /\.tmp-(\d+)(?:\.build-\w+)?$/ },
    { dir: join(home, 'packages', 'layers'), pid: durable },
    { dir: join(home, 'packages', 'sets'), pid: durable },
  ]
}

/** Remove the temporary files and directories of `home` whose maker is gone; the paths removed. */
export function sweepDeadTemps(home: string): string[] {
  const out: string[] = []
  for (const { dir, pid } of tempPlaces(home)) {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      continue
    }
    for (const n of names) {
      const m = pid.exec(n)
      if (!m || procAlive(Number(m[1]))) continue
      rmSync(join(dir, n), { recursive: true, force: true })
      out.push(join(dir, n))
    }
  }
  return out
}
