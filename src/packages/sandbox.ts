// The part of a layer build that handles what packages contain (unpacking
// their archives, the owners and modes of their files, mke2fs reading the
// tree) runs without root's powers over the host, even when the harness
// runs as root. As root: in a user namespace of its own, where it is root
// and ids 0-65535 are BUILD_ID + id on the host, ids that own nothing else
// here, so it can write only in the build's directory (owned by BUILD_ID,
// reached as the working directory: no path through the home it lives in is
// needed) and reads what any user may; its chowns are real, inside that
// range. As a user: as that user, under fakeroot, which gives the files the
// owners and modes the packages ask for without any real chown (its
// database is `fakeroot.db` in the directory). fakeroot alone would not do
// for root: it is no sandbox (root stays root), and under a user namespace
// it passes chown to unmapped ids through and fails (EINVAL, seen).
import { existsSync, readlinkSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { execa } from 'execa'
import { MissingDependencyError } from '../errors.ts'
import { which } from '../host/which.ts'

/**
 * The host uid and gid of a build run by root: above the ranges Debian and
 * systemd give out (system 100-999, users 1000-59999, dynamic users
 * 61184-65519, nspawn containers up to 0x6FFFFFFF), so that no process or
 * file of anyone else has it.
 */
export const BUILD_ID = 2147000000

/** How many ids the build's namespace maps (0-65535: nogroup is 65534). */
export const BUILD_IDS = 65536

/** The host uid that the build's files must belong to, to be root's in the build (BUILD_ID as root; this user's otherwise). */
export function buildOwner(): number | undefined {
  return process.getuid?.() === 0 ? BUILD_ID : undefined
}

/** True when the build keeps owners in fakeroot's database (a user's build), not on disk. */
export const usesFakeroot = (): boolean => process.getuid?.() !== 0

/** The last lines of a failed run, for the error. */
const tail = (s: string | undefined): string => (s ?? '').trim().split('\n').slice(-5).join(' | ')

/**
 * Run `script` with `sh -e` in the directory `cwd` (a build's own), as
 * fake root and without root's powers (see above). Its output, or a
 * MissingDependencyError with its last lines when it failed.
 */
export async function sandboxed(cwd: string, script: string): Promise<string> {
  if (usesFakeroot()) {
    const fakeroot = which('fakeroot')
    if (!fakeroot) throw new MissingDependencyError('Building a package layer as a user needs fakeroot (so that its files are owned by root in the VM): run `npm run setup`, or as root: apt-get install fakeroot')
    const fr = [fakeroot, ...(existsSync(`${cwd}/fakeroot.db`) ? ['-i', 'fakeroot.db'] : []), '-s', 'fakeroot.db', '--', 'sh', '-ec', script]
    const r = await execa(fr[0], fr.slice(1), { cwd, reject: false, all: true, env: { LC_ALL: 'C' } })
    if (r.exitCode !== 0) throw new MissingDependencyError(`Building a package layer failed (exit ${r.exitCode}): ${tail(r.all)}`)
    return r.all ?? ''
  }
  const unshare = which('unshare')
  const nsenter = which('nsenter')
  if (!unshare || !nsenter) throw new MissingDependencyError('Building a package layer as root needs unshare and nsenter (util-linux) to drop root\'s powers')
  // A process holds a new user namespace while its id maps are written from here (root may map any id);
  // the build enters it as its root (nsenter sets uid and gid 0 there and drops the groups).
  // (unshare alone cannot wait for maps written from outside: its command is exec'd unmapped, without capabilities.)
  const holder = execa(unshare, ['--user', '--', 'sh', '-c', 'read go'], { reject: false, stdin: 'pipe' })
  let child
  try {
    const mine = readlinkSync('/proc/self/ns/user')
    const deadline = Date.now() + 10_000
    for (;;) {
      let ns = mine
      try {
        ns = readlinkSync(`/proc/${holder.pid}/ns/user`)
      } catch {
        // not started yet, or already gone: the exit is seen below
      }
      if (ns !== mine) break
      if (Date.now() > deadline || holder.exitCode !== null) throw new MissingDependencyError('Building a package layer: the user namespace of the build did not appear (is unshare --user allowed here?)')
      await sleep(2)
    }
    writeFileSync(`/proc/${holder.pid}/uid_map`, `0 ${BUILD_ID} ${BUILD_IDS}\n`)
    writeFileSync(`/proc/${holder.pid}/gid_map`, `0 ${BUILD_ID} ${BUILD_IDS}\n`)
    child = await execa(nsenter, ['--target', String(holder.pid), '--user', '--', 'sh', '-ec', script], { cwd, reject: false, all: true, env: { LC_ALL: 'C' } })
  } finally {
    holder.stdin!.end('go\n')
    await holder
  }
  const r = child
  if (r.exitCode !== 0) throw new MissingDependencyError(`Building a package layer failed (exit ${r.exitCode}): ${tail(r.all)}`)
  return r.all ?? ''
}
