// xc nsadd / nsdel: what root prepares, once, so that one user runs bridge
// mode without root (xcluster's `xc nsadd`, which gave `ip` its rights with
// setcap). Here the rights are narrower: that user may open /dev/net/tun (an
// ACL entry of theirs, kept across reboots by a udev rule where udev runs),
// and, where the host forbids it, unprivileged user namespaces are allowed
// (a sysctl, kept in /etc/sysctl.d). Each change is recorded, so that nsdel
// undoes exactly what nsadd did.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { HostCommandError, MissingDependencyError } from '../errors.ts'
import { TUN } from './rootless.ts'
import { which } from './which.ts'

/** Where nsadd records what it changed, one file per user. */
export const NSADD_DIR = '/etc/xcluster/nsadd'
const UDEV_DIR = '/etc/udev/rules.d'
const SYSCTL_FILE = '/etc/sysctl.d/70-xcluster-userns.conf'

/** The sysctls that forbid unprivileged user namespaces, and the value that allows them. */
const USERNS_SYSCTLS: Array<{ key: string; path: string; blocks: (v: string) => boolean; allow: string }> = [
  { key: 'kernel.unprivileged_userns_clone', path: '/proc/sys/kernel/unprivileged_userns_clone', blocks: (v) => v === '0', allow: '1' },
  { key: 'user.max_user_namespaces', path: '/proc/sys/user/max_user_namespaces', blocks: (v) => v === '0', allow: '15000' },
  { key: 'kernel.apparmor_restrict_unprivileged_userns', path: '/proc/sys/kernel/apparmor_restrict_unprivileged_userns', blocks: (v) => v === '1', allow: '0' },
]

export interface NsaddRecord {
  user: string
  uid: number
  addedAt: string
  /** The ACL entry u:<user>:rw on /dev/net/tun was added by nsadd. */
  tunAcl: boolean
  /** The udev rule that adds it again at boot, when udev is there. */
  udevRule?: string
  /** Sysctls nsadd changed, with the values it found. */
  sysctls: Array<{ key: string; was: string; now: string }>
}

/** The uid and primary gid of `user`, from getent (passwd). */
export function lookupUser(user: string): { uid: number; gid: number } | undefined {
  const r = spawnSync('getent', ['passwd', user], { encoding: 'utf8' })
  const f = r.status === 0 ? r.stdout.trim().split(':') : []
  return f.length >= 4 ? { uid: Number(f[2]), gid: Number(f[3]) } : undefined
}

function recordPath(user: string): string {
  return join(NSADD_DIR, `${user}.json`)
}

export function readNsadd(user: string): NsaddRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(user), 'utf8')) as NsaddRecord
  } catch {
    return undefined
  }
}

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return undefined
  }
}

async function run(argv: string[]): Promise<void> {
  const r = await execa(argv[0], argv.slice(1), { reject: false })
  if (r.exitCode !== 0) throw new HostCommandError(`${argv.join(' ')} failed: ${r.stderr.trim()}`, { argv, exitCode: r.exitCode, stderr: r.stderr })
}

/** What `user` still cannot do for rootless bridge mode, asked as that user (setpriv): empty when it can. */
export function problemsAs(user: string): string[] {
  const id = lookupUser(user)
  if (!id) return [`no user ${user}`]
  const as = ['setpriv', `--reuid=${id.uid}`, `--regid=${id.gid}`, '--init-groups']
  const problems: string[] = []
  const ns = spawnSync(as[0], [...as.slice(1), 'unshare', '--user', '--map-root-user', '--net', 'true'], { encoding: 'utf8' })
  if (ns.status !== 0) problems.push(`${user} cannot make user namespaces: ${(ns.stderr || `exit ${ns.status}`).trim()}`)
  const tun = spawnSync(as[0], [...as.slice(1), 'sh', '-c', `test -r ${TUN} && test -w ${TUN}`])
  if (tun.status !== 0) problems.push(`${user} cannot open ${TUN}`)
  return problems
}

/** Prepare rootless bridge mode for `user` (as root). Returns what was changed, one line each. */
export async function nsadd(user: string): Promise<{ record: NsaddRecord; changed: string[] }> {
  const id = lookupUser(user)
  if (!id) throw new HostCommandError(`no user ${user} on this host (getent passwd ${user})`, { argv: ['getent', 'passwd', user] })
  if (!which('setfacl')) throw new MissingDependencyError('setfacl is not installed: as root, apt-get install acl (`npm run setup` installs it)')
  const old = readNsadd(user)
  const changed: string[] = []
  const record: NsaddRecord = old ?? { user, uid: id.uid, addedAt: new Date().toISOString(), tunAcl: false, sysctls: [] }
  if (!existsSync(TUN)) throw new HostCommandError(`${TUN} does not exist: modprobe tun`, { argv: [] })
  // Asked once, as the user: what stops them now.
  const before = problemsAs(user)
  // The entry and the mask: a chmod after an ACL entry lowers the mask, which then denies the entry.
  const acl = spawnSync('getfacl', ['-cp', TUN], { encoding: 'utf8' }).stdout ?? ''
  const hasEntry = new RegExp(`^user:(${user}|${id.uid}):`, 'm').test(acl)
  let addedAcl = false
  if (before.some((p) => p.includes(TUN))) {
    await run(['setfacl', '-m', `u:${user}:rw,m::rw`, TUN])
    if (!hasEntry) record.tunAcl = addedAcl = true
    changed.push(`${TUN}: ACL entry u:${user}:rw (this user may open it)`)
  }
  if (existsSync(UDEV_DIR)) {
    const rule = join(UDEV_DIR, `70-xcluster-${user}.rules`)
    writeFileSync(rule, `# xc nsadd --user ${user}: rootless bridge mode (xc nsdel removes it)\nKERNEL=="tun", RUN+="${which('setfacl')} -m u:${user}:rw /dev/net/tun"\n`)
    if (record.udevRule !== rule) changed.push(`${rule}: the same ACL entry at every boot`)
    record.udevRule = rule
  } else if (addedAcl) {
    changed.push(`no ${UDEV_DIR} (no udev here): the ACL entry lasts until the next boot; run xc nsadd again then`)
  }
  if (before.some((p) => p.includes('user namespaces'))) {
    const lines: string[] = []
    for (const s of USERNS_SYSCTLS) {
      const was = readSysctl(s.path)
      if (was === undefined || !s.blocks(was)) continue
      await run(['sysctl', '-q', '-w', `${s.key}=${s.allow}`])
      record.sysctls.push({ key: s.key, was, now: s.allow })
      lines.push(`${s.key} = ${s.allow}`)
      changed.push(`sysctl ${s.key}: ${was} -> ${s.allow} (unprivileged user namespaces allowed), kept in ${SYSCTL_FILE}`)
    }
    if (lines.length) writeFileSync(SYSCTL_FILE, `# xc nsadd: unprivileged user namespaces for rootless bridge mode (xc nsdel removes it with its last user)\n${lines.join('\n')}\n`)
  }
  mkdirSync(NSADD_DIR, { recursive: true })
  writeFileSync(recordPath(user), JSON.stringify(record, null, 2) + '\n')
  return { record, changed }
}

/** Undo what nsadd recorded for `user` (as root). Returns what was undone, one line each. */
export async function nsdel(user: string): Promise<string[]> {
  const record = readNsadd(user)
  if (!record) return []
  const undone: string[] = []
  if (record.tunAcl && existsSync(TUN)) {
    await run(['setfacl', '-x', `u:${user}`, TUN])
    // With no named entry left, no ACL at all: the mode bits alone, as before.
    const acl = spawnSync('getfacl', ['-cp', TUN], { encoding: 'utf8' }).stdout ?? ''
    if (!/^(user|group):[^:]+:/m.test(acl)) await run(['setfacl', '-b', TUN])
    undone.push(`${TUN}: ACL entry of ${user} removed`)
  }
  if (record.udevRule && existsSync(record.udevRule)) {
    rmSync(record.udevRule)
    undone.push(`${record.udevRule} removed`)
  }
  rmSync(recordPath(user))
  // Sysctls go back with the last user that needed them.
  const others = existsSync(NSADD_DIR) ? readdirSync(NSADD_DIR).filter((f) => f.endsWith('.json')) : []
  const sysctls = others.length ? [] : record.sysctls
  for (const s of sysctls) {
    await run(['sysctl', '-q', '-w', `${s.key}=${s.was}`])
    undone.push(`sysctl ${s.key}: back to ${s.was}`)
  }
  if (!others.length && existsSync(SYSCTL_FILE)) rmSync(SYSCTL_FILE)
  else if (record.sysctls.length) {
    // Another user still needs them: hand them over.
    const next = JSON.parse(readFileSync(join(NSADD_DIR, others[0]), 'utf8')) as NsaddRecord
    next.sysctls.push(...record.sysctls)
    writeFileSync(join(NSADD_DIR, others[0]), JSON.stringify(next, null, 2) + '\n')
  }
  return undone
}
