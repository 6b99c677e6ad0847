// Building a package layer from downloaded .deb files: unpack them without
// trusting them (./unpack.ts: sandboxed, each path checked), merge /usr as
// Debian 12 has it, read what the maintainer scripts would have made
// (./maintainer.ts, ./file-actions.ts) and do it (./emulate.ts), then make
// the read-only ext4 image with mke2fs. Everything that touches the
// packages' files runs sandboxed (./sandbox.ts): as root without root's
// powers over the host, as a user under fakeroot.
import { chmodSync, existsSync, lchownSync, lstatSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MissingDependencyError, UnsafePackageError } from '../errors.ts'
import { which } from '../host/which.ts'
import { BASE_GROUP as GROUP, BASE_PASSWD as PASSWD } from '../plan/model.ts'
import { accountFiles, bootCommands } from './accounts.ts'
import type { ResolvedPackage } from './apt.ts'
import { emulate } from './emulate.ts'
import { scanFileActions, type FileAction } from './file-actions.ts'
import { emptyAccounts, scanMaintainerScript, scanSysusers, scanTmpfiles, scanUnit, type Accounts } from './maintainer.ts'
import { buildOwner, sandboxed, usesFakeroot } from './sandbox.ts'
import { StageView } from './stage-view.ts'
import { mergeInto, ownDir, unpackPackages } from './unpack.ts'

/** What a layer holds. */
export interface LayerManifest {
  key: string
  /** The names asked for. */
  names: string[]
  packages: ResolvedPackage[]
  users: string[]
  groups: string[]
  bytes: number
  /** sha256 of each package's .deb, as apt's lists give it (the layer was made from these). */
  debs?: Record<string, string>
  /** sha256 of the layer's image. */
  sha256?: string
}

/** Documentation is dropped from layers, as in Debian's minimal images (dpkg path-exclude). */
const DROPPED = ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/lintian', 'usr/share/bug']

/** A regular file of the stage (or of the control files) read as text; a link or anything else is not read. */
function readRegular(path: string): string | undefined {
  try {
    return lstatSync(path).isFile() ? readFileSync(path, 'utf8') : undefined
  } catch {
    return undefined
  }
}

/** Everything the packages (control files in `ctrl/<package>/`, in apt's order) would have made, and their file actions. */
function scanPackages(view: StageView, ctrl: string, packages: ResolvedPackage[]): { acc: Accounts; actions: FileAction[] } {
  const acc = emptyAccounts()
  const actions: FileAction[] = []
  for (const p of packages) {
    const pre = readRegular(join(ctrl, p.name, 'preinst'))
    const post = readRegular(join(ctrl, p.name, 'postinst'))
    if (pre !== undefined) {
      scanMaintainerScript(pre, acc)
      scanFileActions(pre, actions)
    }
    if (post !== undefined) {
      scanMaintainerScript(post, acc)
      scanFileActions(post, actions)
    }
  }
  const each = (dir: string, re: RegExp, fn: (text: string) => void): void => {
    const { rel, entry } = view.at(dir)
    if (entry?.kind !== 'dir') return
    for (const f of readdirSync(join(view.stage, rel)).sort()) {
      if (!re.test(f)) continue
      const file = view.at(`/${rel}/${f}`)
      const text = file.entry?.kind === 'file' ? readRegular(join(view.stage, file.rel)) : undefined
      if (text !== undefined) fn(text)
    }
  }
  each('/usr/lib/sysusers.d', /\.conf$/, (t) => scanSysusers(t, acc))
  each('/usr/lib/tmpfiles.d', /\.conf$/, (t) => scanTmpfiles(t, acc))
  each('/usr/lib/systemd/system', /\.service$/, (t) => scanUnit(t, acc))
  return { acc, actions }
}

/**
 * Merge /bin, /sbin, /lib and /lib64 of `stage` into /usr, as Debian 12's
 * merged /usr has them (usrmerge): `#!/bin/bash` must find /usr/bin/bash of
 * the tools, and a package's /lib/x86_64-linux-gnu is /usr/lib's. A name in
 * both places keeps the /usr one, unless that is a link back to the other.
 * Paths are resolved inside the stage: a link a package ships is never
 * followed on the host.
 */
export function mergeUsr(stage: string): void {
  const view = new StageView(stage)
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) {
    const e = view.lookup(d)
    if (!e) continue
    if (e.kind !== 'dir') {
      rmSync(join(stage, d), { force: true })
      continue
    }
    const to = view.resolve(`/usr/${d}`, true)
    const parent = to.split('/').slice(0, -1).join('/')
    if (!view.lookup(parent)) ownDir(join(stage, parent))
    const there = view.lookup(to)
    if (there && there.kind !== 'dir') rmSync(join(stage, to), { force: true })
    if (view.lookup(to)?.kind !== 'dir') renameSync(join(stage, d), join(stage, to))
    else {
      mergeInto(view, join(stage, d), to, (_src, existing) => existing !== 'link')
      rmSync(join(stage, d), { recursive: true, force: true })
    }
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

/** Files that postinst scripts of well-known packages generate rather than ship, written (never over anything) into `written`. */
function generatedFiles(view: StageView, packages: ResolvedPackage[], written: string[]): void {
  if (!packages.some((p) => p.name === 'libpam-runtime')) return
  const dir = view.resolve('/etc/pam.d', true)
  if (!view.lookup(dir)) ownDir(join(view.stage, dir))
  if (view.lookup(dir)?.kind !== 'dir') return
  for (const [f, text] of Object.entries(PAM_COMMON)) {
    if (view.lookup(`${dir}/${f}`)) continue
    writeFileSync(join(view.stage, dir, f), text, { flag: 'wx', mode: 0o644 })
    written.push(join(view.stage, dir, f))
  }
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** The apparent size in bytes and the number of entries of a tree (no link followed). */
function treeSize(dir: string): { bytes: number; entries: number } {
  let bytes = 0
  let entries = 0
  const walk = (p: string): void => {
    const st = lstatSync(p)
    bytes += st.size
    entries++
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e))
  }
  walk(dir)
  return { bytes, entries }
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

/** Unpack `files` and make the ext4 image `out` of them with what the maintainer scripts would have made. */
export async function buildLayer(files: string[], names: string[], packages: ResolvedPackage[], key: string, out: string): Promise<LayerManifest> {
  const mke2fs = which('mke2fs')
  if (!mke2fs) throw new MissingDependencyError('mke2fs is missing: install e2fsprogs (npm run setup does)')
  if (!which('dpkg-deb') || !which('tar')) throw new MissingDependencyError('dpkg-deb and tar are missing: packages for the VMs need a Debian host')
  const work = mkdtempSync(`${out}.build-`)
  try {
    ownDir(work)
    const { ctrl } = await unpackPackages(work, files, packages)
    const stage = join(work, 'root')
    for (const d of DROPPED) {
      const rel = new StageView(stage).resolve(`/${d}`, false)
      if (rel) rmSync(join(stage, rel), { recursive: true, force: true })
    }
    mergeUsr(stage)
    // /etc is there before the scripts' actions (as on any Debian system) and for the accounts.
    const etc = new StageView(stage).resolve('/etc', true)
    if (!new StageView(stage).lookup(etc)) ownDir(join(stage, etc))
    const view = new StageView(stage)
    if (view.lookup(etc)?.kind !== 'dir') throw new UnsafePackageError(['the packages ship /etc as something other than a directory'])
    const written: string[] = []
    generatedFiles(view, packages, written)
    const { acc, actions } = scanPackages(view, ctrl, packages)
    const ids = accountFiles(acc)
    const problems: string[] = []
    const lines = emulate(view, acc, actions, ids, problems)
    if (problems.length) throw new UnsafePackageError(problems.map((p) => `a maintainer script's ${p}`))
    // The accounts as the VM will have them, in the layer's /etc (over the base image's): no work at boot.
    // Locked passwords in /etc/shadow, for PAM's pam_unix (the base image has none).
    const put = (rel: string, text: string, mode = 0o644): void => {
      const path = join(stage, rel)
      rmSync(path, { recursive: true, force: true })
      writeFileSync(path, text, { flag: 'wx', mode })
      written.push(path)
    }
    put(`${etc}/passwd`, PASSWD + ids.passwd)
    put(`${etc}/group`, GROUP + ids.group)
    put(`${etc}/shadow`, [...ids.uid.keys()].map((u) => `${u}:*:19000:0:99999:7:::\n`).join(''), 0o640)
    rmSync(join(stage, '.xc'), { recursive: true, force: true })
    ownDir(join(stage, '.xc'))
    written.push(join(stage, '.xc'))
    put('.xc/packages', packages.map((p) => `${p.name} ${p.version} ${p.arch}\n`).join(''))
    put('.xc/setup', ['# Sourced by the boot script once the layer is laid over the root.', ...bootCommands(acc, ids), ''].join('\n'))
    const owner = buildOwner()
    if (owner !== undefined) for (const w of written) lchownSync(w, owner, owner)
    const size = treeSize(stage)
    if (usesFakeroot()) pruneFakerootDb(join(work, 'fakeroot.db'), stage, written)
    const mib = Math.ceil((size.bytes / 1048576) * 1.3) + 16
    const inodes = Math.ceil(size.entries * 1.2) + 1024
    const rel = (p: string): string => q(p.slice(work.length + 1))
    await sandboxed(work, [
      `chown 0:0 ${written.map(rel).join(' ')}`,
      `chown 0:${ids.gid.get('shadow')} ${q(`root/${etc}/shadow`)}`,
      ...lines,
      `${mke2fs} -q -t ext4 -O ^has_journal -m 0 -N ${inodes} -L xcpkgs -d root layer.ext4 ${mib}M`,
    ].join('\n'))
    renameSync(join(work, 'layer.ext4'), out)
    lchownSync(out, process.getuid?.() ?? 0, process.getgid?.() ?? 0)
    chmodSync(out, 0o644)
    return { key, names, packages, users: [...ids.uid.keys()], groups: [...ids.gid.keys()], bytes: lstatSync(out).size }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
