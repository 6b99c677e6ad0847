// A package layer: the dependency closure of a set of Debian packages,
// unpacked (dpkg-deb -x: no maintainer script runs on the host) into one
// read-only ext4 image that a VM mounts and lays over its root with
// overlayfs, so every program is at its Debian path with its libraries and
// its own files under /etc. What the maintainer scripts would have made
// (system users and groups, their directories) is read from them
// (./maintainer.ts) and made by the layer's setup at boot.
//
// Cache, under $XCLUSTER_HOME/packages:
//   apt-<sources>/       the private apt state (lists) and the downloaded .deb files
//   layers/<key>.ext4    a layer, named by the hash of its resolved package versions
//   layers/<key>.json    what is in it
//   sets/<hash>.json     a requested set of names -> its layer, for these lists
// A layer is built in a temporary file and renamed when complete; every
// cluster and VM that asks for the same resolved set shares it.
import { createHash } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { ClusterConfigError, MissingDependencyError } from '../errors.ts'
import { withDirLock } from '../host/dir-lock.ts'
import { which } from '../host/which.ts'
import { aptRoot, downloadPackages, haveLists, listsStamp, resolvePackages, updateLists, type AptRoot, type ResolvedPackage } from './apt.ts'
import { codeHash } from '../host/code-hash.ts'
import { BASE_GROUP as GROUP, BASE_PASSWD as PASSWD } from '../plan/model.ts'
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

export interface PackageLayer {
  path: string
  manifest: LayerManifest
  /** True when the layer was there already (no resolution, download or build). */
  cached: boolean
}

/** Documentation is dropped from layers, as in Debian's minimal images (dpkg path-exclude). */
const DROPPED = ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/lintian', 'usr/share/bug']

/** First uid and gid of the layer's system users and groups (the base image has 0 and 104). */
const FIRST_ID = 200

function packagesDir(home: string): string {
  return join(home, 'packages')
}

const PACKAGES_SRC = fileURLToPath(new URL('.', import.meta.url))

/** A hash of the code that builds layers: a change to it makes new layers (the base image is not concerned). */
export function layerCodeHash(): string {
  return codeHash(PACKAGES_SRC)
}

/** The layer's key: the resolved versions and the code that builds layers. */
export function layerKey(packages: ResolvedPackage[]): string {
  const lines = packages.map((p) => `${p.name}=${p.version}:${p.arch}`).sort()
  return createHash('sha256').update(`${layerCodeHash()}\n${lines.join('\n')}`).digest('hex').slice(0, 16)
}

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
function generatedFiles(stage: string, packages: ResolvedPackage[]): void {
  if (packages.some((p) => p.name === 'libpam-runtime')) {
    mkdirSync(join(stage, 'etc', 'pam.d'), { recursive: true })
    for (const [f, text] of Object.entries(PAM_COMMON)) if (!existsSync(join(stage, 'etc', 'pam.d', f))) writeFileSync(join(stage, 'etc', 'pam.d', f), text)
  }
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
  for (const d of acc.dirs) {
    const runtime = /^\/(var\/)?run(\/|$)/.test(d.path)
    const p = runtime ? d.path.replace(/^\/var\/run/, '/run') : root + d.path
    const lines = [`mkdir -p ${q(p)}`]
    const o = owner(d.user, d.group)
    if (o) lines.push(`chown ${o} ${q(p)}`)
    if (d.mode && /^[0-7]{3,4}$/.test(d.mode)) lines.push(`chmod ${d.mode} ${q(p)}`)
    ;(runtime ? boot : build).push(lines.join(' && '))
  }
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

/** Unpack `files` and make the ext4 image `out` of them with the accounts' setup. */
async function buildLayer(files: string[], names: string[], packages: ResolvedPackage[], key: string, out: string): Promise<LayerManifest> {
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
    generatedFiles(stage, packages)
    const acc = scanPackages(stage, ctrl)
    const ids = accountFiles(acc)
    const cmds = dirCommands(acc, ids, stage, (p) => existsSync(join(stage, p)) && statSync(join(stage, p)).isDirectory())
    const xc = join(stage, '.xc')
    mkdirSync(xc)
    writeFileSync(join(xc, 'passwd'), ids.passwd)
    writeFileSync(join(xc, 'group'), ids.group)
    writeFileSync(join(xc, 'packages'), packages.map((p) => `${p.name} ${p.version} ${p.arch}\n`).join(''))
    writeFileSync(join(xc, 'setup'), [
      '# Sourced by the boot script once the layer is laid over the root.',
      'cat /xp/.xc/passwd >> /etc/passwd',
      'cat /xp/.xc/group >> /etc/group',
      // Locked accounts for PAM's pam_unix (the base image has no /etc/shadow).
      "[ -e /etc/shadow ] || { cut -d: -f1 /etc/passwd | sed 's/$/:*:19000:0:99999:7:::/' > /etc/shadow; chmod 640 /etc/shadow; }",
      ...cmds.boot,
      '',
    ].join('\n'))
    const { stdout } = await execa('du', ['-sm', '--apparent-size', stage])
    const count = (await execa('sh', ['-c', `find ${q(stage)} | wc -l`])).stdout.trim()
    const mib = Math.ceil(Number(stdout.split(/\s/)[0]) * 1.3) + 16
    const inodes = Math.ceil(Number(count) * 1.2) + 1024
    await asRoot([
      `chown -R 0:0 ${q(xc)}`,
      ...cmds.build,
      `${mke2fs} -q -t ext4 -O ^has_journal -m 0 -N ${inodes} -L xcpkgs -d ${q(stage)} ${q(out)} ${mib}M`,
    ].join('\n'), db)
    return { key, names, packages, users: [...ids.uid.keys()], groups: [...ids.gid.keys()], bytes: statSync(out).size }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

export interface LayerOptions {
  /** Progress lines (resolving, downloading, building); a cached layer prints none. */
  log?: (line: string) => void
  /** Fetch the package lists again first (`xc packages --update`). */
  update?: boolean
}

function readJson<T>(p: string): T | undefined {
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as T
  } catch {
    return undefined
  }
}

/** The resolved set of `names` for these lists, if resolved before, with its layer. */
function memoPath(root: AptRoot, names: string[], dir: string): string {
  const h = createHash('sha256').update(`${root.dir}\n${listsStamp(root)}\n${layerCodeHash()}\n${names.join(' ')}`).digest('hex').slice(0, 16)
  return join(dir, 'sets', `${h}.json`)
}

/**
 * The layer of the Debian packages `names` (and their dependencies), built
 * when no layer of the same resolved versions exists. Every problem
 * (unknown names, conflicts, failed downloads) is one ClusterConfigError.
 */
export async function packageLayer(home: string, names: string[], opts: LayerOptions = {}): Promise<PackageLayer> {
  const log = opts.log ?? (() => {})
  const sorted = [...new Set(names)].sort()
  const dir = packagesDir(home)
  mkdirSync(join(dir, 'layers'), { recursive: true })
  mkdirSync(join(dir, 'sets'), { recursive: true })
  const root = aptRoot(home)
  return withDirLock(join(dir, '.lock'), async () => {
    if (opts.update || !haveLists(root)) {
      log(`packages: fetching the package lists (apt-get update into ${root.dir}) ...`)
      const problems = await updateLists(root)
      if (problems.length) throw new ClusterConfigError(problems.map((p) => `packages ${sorted.join(', ')}: ${p}`))
    }
    const memo = memoPath(root, sorted, dir)
    const known = readJson<{ key: string }>(memo)
    if (known) {
      const manifest = readJson<LayerManifest>(join(dir, 'layers', `${known.key}.json`))
      const path = join(dir, 'layers', `${known.key}.ext4`)
      if (manifest && existsSync(path)) return { path, manifest, cached: true }
    }
    const t0 = Date.now()
    log(`packages: resolving ${sorted.join(', ')} ...`)
    let { packages, problems } = await resolvePackages(root, sorted)
    if (problems.length) throw new ClusterConfigError(problems)
    let manifest = readJson<LayerManifest>(join(dir, 'layers', `${layerKey(packages)}.json`))
    if (!manifest || !existsSync(join(dir, 'layers', `${layerKey(packages)}.ext4`))) {
      // Only the holder of the lock builds: what a killed build left is removed here.
      for (const f of readdirSync(join(dir, 'layers'))) if (f.includes('.tmp-')) rmSync(join(dir, 'layers', f), { recursive: true, force: true })
      log(`packages: downloading what is not cached of ${packages.length} packages ...`)
      let got = await downloadPackages(root, packages)
      if (got.problems.length) {
        // The lists may be older than the archive (a version superseded): fetch them again, once.
        log('packages: a download failed; fetching the package lists again ...')
        if (!(await updateLists(root)).length) {
          ;({ packages, problems } = await resolvePackages(root, sorted))
          if (problems.length) throw new ClusterConfigError(problems)
          got = await downloadPackages(root, packages)
        }
        if (got.problems.length) throw new ClusterConfigError(got.problems)
      }
      log(`packages: building the layer of ${packages.length} packages ...`)
      const k = layerKey(packages)
      const tmp = join(dir, 'layers', `${k}.ext4.tmp-${process.pid}`)
      try {
        manifest = await buildLayer(got.files, sorted, packages, k, tmp)
        renameSync(tmp, join(dir, 'layers', `${k}.ext4`))
      } finally {
        rmSync(tmp, { force: true })
      }
      writeFileSync(join(dir, 'layers', `${k}.json`), JSON.stringify(manifest, null, 2) + '\n')
      log(`packages: layer ${k} ready (${packages.length} packages, ${(manifest.bytes / 1048576).toFixed(0)} MiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    }
    writeFileSync(memo, JSON.stringify({ names: sorted, key: manifest.key }) + '\n')
    return { path: join(dir, 'layers', `${manifest.key}.ext4`), manifest, cached: false }
  }, 30 * 60_000, 'the package cache lock')
}
