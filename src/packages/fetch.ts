// Fetching for the package cache: the lists (apt-get update) and the .debs
// (apt-get download). As root, apt drops to its _apt user for the network
// and the parsing of what comes from it, as apt does on a Debian host:
// _apt cannot enter a home under /root (0700), so apt fetches into a
// private directory of the host's temp dir (0711, its parts _apt's own),
// and the results are moved into the home. (APT::Sandbox::User=root was
// set before for that reason: apt refuses to drop to _apt, or warns and
// fetches as root, when _apt cannot reach the partial directory.) A .deb is
// used, fetched or cached, only with the sha256 that the lists give for its
// version: a planted or changed .deb in the cache is fetched again.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { MissingDependencyError } from '../errors.ts'
import { which } from '../host/which.ts'
import { aptErrors, aptGet, debFile, type AptRoot, type ResolvedPackage } from './apt.ts'
import { stampLists } from './lists-verify.ts'
import { sha256File } from './trust.ts'

export interface Fetched {
  problems: string[]
  /** apt's notes that it fetched as root after all (a file _apt could not read, such as a file: repository in a 0700 directory). */
  warnings: string[]
}

const unsandboxed = (out: string | undefined): string[] => (out ?? '').split('\n').map((l) => l.trim()).filter((l) => /unsandboxed/.test(l))

/** _apt's uid and gid. */
function aptIds(): [number, number] {
  const f = /^_apt:[^:]*:(\d+):(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))
  return f ? [Number(f[1]), Number(f[2])] : [0, 0]
}

/** The file: and copy: repositories of the sources that _apt cannot read (apt's file method then fails as _apt: seen). */
function unreadableByApt(root: AptRoot): string[] {
  const setpriv = which('setpriv')
  if (!setpriv) return []
  const paths = [...root.sources.matchAll(/\b(?:file|copy):(\/[^\s\]]*)/g)].map((m) => m[1].replace(/\/+$/, '') || '/')
  return paths.filter((p) => spawnSync(setpriv, ['--reuid=_apt', '--regid=nogroup', '--clear-groups', '--', 'test', '-r', p, '-a', '-x', p], { stdio: 'ignore' }).status !== 0)
}

interface Stage {
  /** The private directory _apt fetches into, or none (apt fetches as this user, or as root). */
  dir?: string
  /** apt options for this fetch. */
  options: string[]
  warnings: string[]
}

/** Run `fn` with a private directory that _apt can reach (as root), or none (as a user: apt fetches as that user). */
async function staged<T extends { warnings: string[] }>(root: AptRoot, fn: (stage: Stage) => Promise<T>): Promise<T> {
  if (root.sandboxUser !== '_apt') return fn({ options: root.options, warnings: [] })
  const unreadable = unreadableByApt(root)
  if (unreadable.length) {
    // As apt does when _apt cannot reach a file: fetch as root, and say so.
    const r = await fn({ options: [...root.options, '-o', 'APT::Sandbox::User=root'], warnings: [] })
    return { ...r, warnings: [`fetching as root: _apt cannot read ${unreadable.join(', ')} (make it readable by all to let apt drop to _apt)`, ...r.warnings] }
  }
  // What a killed fetch left (its pid in the name, gone): removed by the next one.
  for (const f of readdirSync(tmpdir())) {
    const pid = /^xc-apt-(\d+)-/.exec(f)?.[1]
    if (pid && !existsSync(`/proc/${pid}`)) rmSync(join(tmpdir(), f), { recursive: true, force: true })
  }
  const dir = mkdtempSync(join(tmpdir(), `xc-apt-${process.pid}-`))
  try {
    chmodSync(dir, 0o711)
    return await fn({ dir, options: root.options, warnings: [] })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const listNames = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f !== 'partial' && f !== 'lock') : [])

/** Fetch the package lists of `root` (apt-get update) and stamp them as this home's; the problems, if it failed. */
export async function updateLists(root: AptRoot, key: Buffer): Promise<Fetched> {
  return staged(root, async ({ dir: stage, options }) => {
    const lists = stage ? join(stage, 'lists') : join(root.dir, 'lists')
    mkdirSync(join(lists, 'partial'), { recursive: true })
    const r = await execa(aptGet(), [...options, ...(stage ? ['-o', `Dir::State::Lists=${lists}`] : []), '-q', 'update'], { reject: false, all: true, env: { LC_ALL: 'C' } })
    // Not the Err: lines: apt prints one for each compression it tries of a repository without a Release
    // file, then gets the next; a list it did not get is an E: or `W: Failed to fetch` line.
    const errs = (r.all ?? '').split('\n').map((l) => l.trim())
      .filter((l) => /^(E:|W: Failed to fetch|W: Some index files failed)/.test(l)).map((l) => l.replace(/^[EW]:\s*/, ''))
    const got = listNames(lists).some((f) => /Packages(\.lz4)?$/.test(f))
    if (r.exitCode !== 0 || !got || errs.length) {
      return { problems: [`apt-get update of the private package lists (${root.dir}) failed: ${errs.join('; ') || (r.all ?? '').trim().split('\n').slice(-3).join(' ')}`], warnings: [] }
    }
    if (stage) {
      const home = join(root.dir, 'lists')
      for (const f of listNames(home)) rmSync(join(home, f), { recursive: true, force: true })
      for (const f of listNames(lists)) {
        if (!readdirSync(lists, { withFileTypes: true }).find((e) => e.name === f)?.isFile()) continue
        copyFileSync(join(lists, f), join(home, `.${f}.new`))
        renameSync(join(home, `.${f}.new`), join(home, f))
      }
    }
    stampLists(key, join(root.dir, 'lists'), root.stamp)
    return { problems: [], warnings: unsandboxed(r.all) }
  })
}

/** The sha256 of each package's .deb (by its file name) as the lists give it. */
export async function debHashes(root: AptRoot, packages: ResolvedPackage[]): Promise<Map<string, string>> {
  const cache = which('apt-cache')
  if (!cache) throw new MissingDependencyError('apt-cache is not on PATH: packages for the VMs need a Debian host')
  const r = await execa(cache, [...root.options, 'show', ...packages.map((p) => `${p.name}=${p.version}`)], { reject: false, env: { LC_ALL: 'C' } })
  const out = new Map<string, string>()
  for (const stanza of r.stdout.split(/\n\n+/)) {
    const f = (k: string): string | undefined => new RegExp(`^${k}: (.+)$`, 'm').exec(stanza)?.[1].trim()
    const [name, version, arch, sha] = [f('Package'), f('Version'), f('Architecture'), f('SHA256')]
    if (name && version && arch && sha) out.set(debFile({ name, version, arch }), sha)
  }
  return out
}

/**
 * The .deb files of `packages` in root.debs: a cached one whose sha256 is
 * not the lists' is removed and fetched again; downloads go to a directory
 * of this process (or apt's stage) and are moved in when whole and checked.
 */
export async function downloadPackages(root: AptRoot, packages: ResolvedPackage[]): Promise<Fetched & { files: string[]; replaced: string[] }> {
  const hashes = await debHashes(root, packages)
  const replaced: string[] = []
  const unknown = packages.filter((p) => !hashes.has(debFile(p)))
  if (unknown.length) return { files: [], replaced, warnings: [], problems: unknown.map((p) => `package ${p.name} ${p.version}: the lists give no sha256 for it`) }
  for (const p of packages) {
    const f = join(root.debs, debFile(p))
    if (existsSync(f) && (await sha256File(f)) !== hashes.get(debFile(p))) {
      rmSync(f, { force: true })
      replaced.push(debFile(p))
    }
  }
  const missing = packages.filter((p) => !existsSync(join(root.debs, debFile(p))))
  if (!missing.length) return { files: packages.map((p) => join(root.debs, debFile(p))), replaced, problems: [], warnings: [] }
  return staged(root, async ({ dir: stage, options }) => {
    const dl = stage ? join(stage, 'dl') : join(root.debs, `.partial-${process.pid}`)
    rmSync(dl, { recursive: true, force: true })
    mkdirSync(dl, { mode: 0o700 })
    if (stage) {
      mkdirSync(join(stage, 'cache', 'archives', 'partial'), { recursive: true })
      chownSync(dl, ...aptIds())
    }
    try {
      const r = await execa(aptGet(), [...options, ...(stage ? ['-o', `Dir::Cache=${stage}/cache`] : []), '-q', 'download', ...missing.map((p) => `${p.name}=${p.version}`)], {
        cwd: dl, reject: false, all: true, env: { LC_ALL: 'C' },
      })
      const bad: string[] = []
      for (const p of missing) {
        const f = join(dl, debFile(p))
        if (!existsSync(f)) continue
        if ((await sha256File(f)) !== hashes.get(debFile(p))) {
          bad.push(`package ${p.name} ${p.version}: the .deb fetched has not the sha256 the lists give`)
          continue
        }
        copyFileSync(f, join(root.debs, `.${debFile(p)}.new`))
        renameSync(join(root.debs, `.${debFile(p)}.new`), join(root.debs, debFile(p)))
      }
      const failed = missing.filter((p) => !existsSync(join(root.debs, debFile(p))))
      if (failed.length || bad.length) {
        const lines = (r.all ?? '').split('\n')
        // apt's own line about the package, else everything apt reported, else its exit code.
        const why = (p: ResolvedPackage): string =>
          lines.find((l) => l.includes(`/${p.name}_`) && /^(E|Err|W)/.test(l.trim()))?.trim() || aptErrors(r.all ?? '').join('; ') || `apt-get download exited ${r.exitCode}`
        return { files: [], replaced, warnings: [], problems: bad.length ? bad : failed.map((p) => `package ${p.name} ${p.version}: download failed: ${why(p)}`) }
      }
      return { files: packages.map((p) => join(root.debs, debFile(p))), replaced, problems: [], warnings: unsandboxed(r.all) }
    } finally {
      rmSync(dl, { recursive: true, force: true })
    }
  })
}
