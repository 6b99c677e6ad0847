// Building a package layer from downloaded .deb files: unpack them
// (dpkg-deb -x, nothing of a package runs), merge /usr as Debian 12 has it,
// read what the maintainer scripts would have made (./maintainer.ts), and
// make the read-only ext4 image with mke2fs, as root or under fakeroot.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { MissingDependencyError } from '../errors.ts'
import { which } from '../host/which.ts'
import { BASE_GROUP as GROUP, BASE_PASSWD as PASSWD } from '../plan/model.ts'
import type { ResolvedPackage } from './apt.ts'
import { emptyAccounts, scanMaintainerScript, scanSysusers, scanTmpfiles, scanUnit, type Accounts } from './maintainer.ts'

/** What a layer holds. */
export interface LayerManifest {
  key: string
  /** The names asked for. */
  names: string[]
  packages: ResolvedPackage[]
  users: string[]
  groups: string[]
  bytes: number
}

/** Documentation is dropped from layers, as in Debian's minimal images (dpkg path-exclude). */
const DROPPED = ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/lintian', 'usr/share/bug']

/** First uid and gid of the layer's system users and groups (the base image has 0 and 104). */
const FIRST_ID = 200

/** Names of the base image's users and groups, with their ids. */
function baseIds(text: string): Map<string, number> {
  return new Map(text.trim().split('\n').map((l) => l.split(':')).map((f) => [f[0], Number(f[2])]))
}

/** passwd and group lines for the layer's accounts, and the id of each name. */
export function accountFiles(acc: Accounts): { passwd: string; group: string; uid: Map<string, number>; gid: Map<string, number> } {
  const uid = baseIds(PASSWD)
  const gid = baseIds(GROUP)
  const groupLines: string[] = []
  const passwdLines: string[] = []
  const wanted = [...acc.groups, ...acc.users.map((u) => u.group ?? 'nogroup')]
  let next = FIRST_ID
  for (const g of wanted) {
    if (gid.has(g)) continue
    gid.set(g, g === 'nogroup' ? 65534 : next++)
  }
  next = FIRST_ID
  for (const u of acc.users) {
    if (uid.has(u.name)) continue
    uid.set(u.name, next++)
    passwdLines.push(`${u.name}:x:${uid.get(u.name)}:${gid.get(u.group ?? 'nogroup')}:${u.gecos}:${u.home}:${u.shell}`)
  }
  const baseGroups = baseIds(GROUP)
  for (const [g, id] of gid) {
    if (baseGroups.has(g)) continue
    const members = acc.members.filter(([, mg]) => mg === g).map(([u]) => u).filter((u) => uid.has(u))
    groupLines.push(`${g}:x:${id}:${[...new Set(members)].join(',')}`)
  }
  return { passwd: passwdLines.map((l) => l + '\n').join(''), group: groupLines.map((l) => l + '\n').join(''), uid, gid }
}

/** Everything the packages in `stage` (control files in `ctrl/<package>/`) would have made. */
function scanPackages(stage: string, ctrl: string): Accounts {
  const acc = emptyAccounts()
  for (const pkg of readdirSync(ctrl).sort()) {
    for (const script of ['preinst', 'postinst']) {
      const f = join(ctrl, pkg, script)
      if (existsSync(f)) scanMaintainerScript(readFileSync(f, 'utf8'), acc)
    }
  }
  const each = (dir: string, re: RegExp, fn: (text: string) => void): void => {
    const d = join(stage, dir)
    if (!existsSync(d)) return
    for (const f of readdirSync(d).sort()) if (re.test(f) && statSync(join(d, f)).isFile()) fn(readFileSync(join(d, f), 'utf8'))
  }
  for (const base of ['usr/lib', 'lib']) {
    each(`${base}/sysusers.d`, /\.conf$/, (t) => scanSysusers(t, acc))
    each(`${base}/tmpfiles.d`, /\.conf$/, (t) => scanTmpfiles(t, acc))
    each(`${base}/systemd/system`, /\.service$/, (t) => scanUnit(t, acc))
  }
  return acc
}

/**
 * Merge /bin, /sbin, /lib and /lib64 of `stage` into /usr, as Debian 12's
 * merged /usr has them (usrmerge): `#!/bin/bash` must find /usr/bin/bash of
 * the tools, and a package's /lib/x86_64-linux-gnu is /usr/lib's. A name in
 * both places keeps the /usr one, unless that is a link back to the other.
 */
export function mergeUsr(stage: string): void {
  const move = (from: string, to: string): void => {
    mkdirSync(to, { recursive: true })
    for (const name of readdirSync(from)) {
      const a = join(from, name)
      const b = join(to, name)
      const sa = lstatSync(a)
      const sb = existsSync(b) || isLink(b) ? lstatSync(b) : undefined
      if (!sb) renameSync(a, b)
      else if (sa.isDirectory() && sb.isDirectory()) move(a, b)
      else if (sb.isSymbolicLink() && !sa.isSymbolicLink()) {
        rmSync(b)
        renameSync(a, b)
      }
    }
    rmSync(from, { recursive: true, force: true })
  }
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) {
    const p = join(stage, d)
    if (isLink(p)) rmSync(p)
    else if (existsSync(p)) move(p, join(stage, 'usr', d))
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink()
  } catch {
    return false
  }
}

/** The PAM stacks libpam-runtime's postinst makes (pam-auth-update with its one profile, unix), when the layer has PAM. */
const PAM_COMMON: Record<string, string> = {
  'common-auth': 'auth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\tpam_deny.so\nauth\trequired\tpam_permit.so\n',
  'common-account': 'account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\naccount\trequisite\tpam_deny.so\naccount\trequired\tpam_permit.so\n',
  'common-password': 'password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\npassword\trequisite\tpam_deny.so\npassword\trequired\tpam_permit.so\n',
  'common-session': 'session\t[default=1]\tpam_permit.so\nsession\trequisite\tpam_deny.so\nsession\trequired\tpam_permit.so\nsession\trequired\tpam_unix.so\n',
  'common-session-noninteractive': 'session\t[default=1]\tpam_permit.so\nsession\trequisite\tpam_deny.so\nsession\trequired\tpam_permit.so\nsession\trequired\tpam_unix.so\n',
}

/** Files that postinst scripts of well-known packages generate rather than ship. */
function generatedFiles(stage: string, packages: ResolvedPackage[]): string[] {
  const written: string[] = []
  if (packages.some((p) => p.name === 'libpam-runtime')) {
    mkdirSync(join(stage, 'etc', 'pam.d'), { recursive: true })
    for (const [f, text] of Object.entries(PAM_COMMON)) {
      const path = join(stage, 'etc', 'pam.d', f)
      if (existsSync(path)) continue
      writeFileSync(path, text)
      written.push(path)
    }
  }
  return written
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * The shell lines that give the accounts' directories: those under /run
 * (a tmpfs in the VM) for the boot-time setup, the others for the build.
 * A system user's own directories (/etc/U, /var/lib/U, /var/log/U, /var/cache/U)
 * are its own, as the maintainer scripts that chown them make them.
 */
export function dirCommands(acc: Accounts, ids: { uid: Map<string, number>; gid: Map<string, number> }, root: string, existing: (p: string) => boolean): { build: string[]; boot: string[] } {
  const build: string[] = []
  const boot: string[] = []
  const owner = (u?: string, g?: string): string | undefined => {
    const uid = u === undefined ? undefined : /^\d+$/.test(u) ? Number(u) : ids.uid.get(u)
    const gid = g === undefined ? undefined : /^\d+$/.test(g) ? Number(g) : ids.gid.get(g)
    if (uid === undefined && gid === undefined) return undefined
    return `${uid ?? ''}${gid === undefined ? '' : `:${gid}`}`
  }
  const runtime: string[] = []
  for (const d of acc.dirs) {
    const atBoot = /^\/(var\/)?run(\/|$)/.test(d.path)
    const o = owner(d.user, d.group)
    const mode = d.mode && /^[0-7]{3,4}$/.test(d.mode) ? d.mode : undefined
    if (atBoot) {
      const p = d.path.replace(/^\/var\/run/, '/run')
      if (!runtime.includes(p)) runtime.push(p)
      if (o) boot.push(`chown ${o} ${q(p)}`)
      if (mode && !/^0?755$/.test(mode)) boot.push(`chmod ${mode} ${q(p)}`)
    } else {
      const p = root + d.path
      build.push([`mkdir -p ${q(p)}`, ...(o ? [`chown ${o} ${q(p)}`] : []), ...(mode ? [`chmod ${mode} ${q(p)}`] : [])].join(' && '))
    }
  }
  // Directories under /run are made at boot (a tmpfs in the VM), in one mkdir: each process costs milliseconds under TCG.
  if (runtime.length) boot.unshift(`mkdir -p ${runtime.map(q).join(' ')}`)
  for (const u of acc.users) {
    const o = owner(u.name, u.group ?? 'nogroup')
    for (const base of ['/etc', '/var/lib', '/var/log', '/var/cache']) {
      if (existing(`${base}/${u.name}`)) build.push(`chown -R ${o} ${q(`${root}${base}/${u.name}`)}`)
    }
  }
  return { build, boot }
}

/** Run `script` as root: directly when this process is root, else under fakeroot with its ownership database `db`. */
async function asRoot(script: string, db: string): Promise<void> {
  const isRoot = process.getuid?.() === 0
  const fakeroot = which('fakeroot')
  if (!isRoot && !fakeroot) throw new MissingDependencyError('Building a package layer as a user needs fakeroot (so that its files are owned by root in the VM): run `npm run setup`, or as root: apt-get install fakeroot')
  const argv = isRoot ? ['sh', '-ec', script] : [fakeroot!, ...(existsSync(db) ? ['-i', db] : []), '-s', db, 'sh', '-ec', script]
  const r = await execa(argv[0], argv.slice(1), { reject: false, all: true })
  if (r.exitCode !== 0) throw new MissingDependencyError(`Building a package layer failed (exit ${r.exitCode}): ${(r.all ?? '').trim().split('\n').slice(-5).join(' | ')}`)
}

/**
 * fakeroot keeps what it faked (owners, modes) by inode. Files this process
 * removed or wrote itself between two fakeroot runs (dropped docs, merged
 * /usr, the accounts, .xc) free or take inodes the database still describes,
 * and the next run would see a new file as the old one (etc/passwd as a
 * directory, seen). Keep only the entries of inodes that still hold the
 * same kind of file and that this process did not write.
 */
export function pruneFakerootDb(db: string, stage: string, written: string[]): void {
  if (!existsSync(db)) return
  const live = new Map<string, number>()
  const walk = (p: string): void => {
    const st = lstatSync(p)
    live.set(`${st.dev.toString(16)}:${st.ino}`, st.mode & 0o170000)
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e))
  }
  walk(stage)
  for (const w of written) {
    if (!existsSync(w)) continue
    const st = lstatSync(w)
    live.delete(`${st.dev.toString(16)}:${st.ino}`)
  }
  const kept = readFileSync(db, 'utf8').split('\n').filter((line) => {
    const m = /^dev=([0-9a-f]+),ino=(\d+),mode=([0-7]+),/.exec(line)
    if (!m) return false
    const type = live.get(`${m[1]}:${m[2]}`)
    return type !== undefined && type === (parseInt(m[3], 8) & 0o170000)
  })
  writeFileSync(db, kept.join('\n') + (kept.length ? '\n' : ''))
}

/** Unpack `files` and make the ext4 image `out` of them with the accounts' setup. */
export async function buildLayer(files: string[], names: string[], packages: ResolvedPackage[], key: string, out: string): Promise<LayerManifest> {
  const mke2fs = which('mke2fs')
  if (!mke2fs) throw new MissingDependencyError('mke2fs is missing: install e2fsprogs (npm run setup does)')
  if (!which('dpkg-deb')) throw new MissingDependencyError('dpkg-deb is missing: packages for the VMs need a Debian host')
  const work = mkdtempSync(`${out}.build-`)
  try {
    const stage = join(work, 'root')
    const ctrl = join(work, 'ctrl')
    const db = join(work, 'fakeroot.db')
    mkdirSync(stage)
    mkdirSync(ctrl)
    const unpack = packages.map((p, i) => `dpkg-deb -x ${q(files[i])} ${q(stage)}; dpkg-deb -e ${q(files[i])} ${q(join(ctrl, p.name))}`)
    await asRoot(unpack.join('\n'), db)
    for (const d of DROPPED) rmSync(join(stage, d), { recursive: true, force: true })
    mergeUsr(stage)
    const generated = generatedFiles(stage, packages)
    const acc = scanPackages(stage, ctrl)
    const ids = accountFiles(acc)
    const cmds = dirCommands(acc, ids, stage, (p) => existsSync(join(stage, p)) && statSync(join(stage, p)).isDirectory())
    const xc = join(stage, '.xc')
    mkdirSync(xc)
    // The accounts as the VM will have them, in the layer's /etc (over the base image's): no work at boot.
    // Locked passwords in /etc/shadow, for PAM's pam_unix (the base image has none).
    mkdirSync(join(stage, 'etc'), { recursive: true })
    writeFileSync(join(stage, 'etc', 'passwd'), PASSWD + ids.passwd)
    writeFileSync(join(stage, 'etc', 'group'), GROUP + ids.group)
    writeFileSync(join(stage, 'etc', 'shadow'), [...ids.uid.keys()].map((u) => `${u}:*:19000:0:99999:7:::\n`).join(''), { mode: 0o640 })
    writeFileSync(join(xc, 'packages'), packages.map((p) => `${p.name} ${p.version} ${p.arch}\n`).join(''))
    writeFileSync(join(xc, 'setup'), ['# Sourced by the boot script once the layer is laid over the root.', ...cmds.boot, ''].join('\n'))
    const { stdout } = await execa('du', ['-sm', '--apparent-size', stage])
    const count = (await execa('sh', ['-c', `find ${q(stage)} | wc -l`])).stdout.trim()
    pruneFakerootDb(db, stage, [join(stage, 'etc', 'passwd'), join(stage, 'etc', 'group'), join(stage, 'etc', 'shadow'), join(xc, 'packages'), join(xc, 'setup'), xc, ...generated])
    const mib = Math.ceil(Number(stdout.split(/\s/)[0]) * 1.3) + 16
    const inodes = Math.ceil(Number(count) * 1.2) + 1024
    await asRoot([
      `chown -R 0:0 ${q(xc)} ${q(join(stage, 'etc', 'passwd'))} ${q(join(stage, 'etc', 'group'))} ${q(join(stage, 'etc', 'shadow'))}`,
      ...cmds.build,
      `${mke2fs} -q -t ext4 -O ^has_journal -m 0 -N ${inodes} -L xcpkgs -d ${q(stage)} ${q(out)} ${mib}M`,
    ].join('\n'), db)
    return { key, names, packages, users: [...ids.uid.keys()], groups: [...ids.gid.keys()], bytes: statSync(out).size }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

