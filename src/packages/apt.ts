// Debian packages for the VMs, resolved by apt's own resolver against the
// host's release, in a private apt state under XCLUSTER_HOME: its own
// package lists and an empty dpkg status, so the result is the whole
// dependency closure (a VM has none of the host's packages), and nothing of
// the host's apt state or dpkg database is read or changed. The host's
// sources, keyrings and apt.conf (proxies) apply, unless XCLUSTER_APT_SOURCES
// names a sources file of its own (a local mirror).
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { execa } from 'execa'
import { MissingDependencyError } from '../errors.ts'
import { which } from '../host/which.ts'

/** One package of a resolved set, at the version apt chose. */
export interface ResolvedPackage {
  name: string
  version: string
  arch: string
}

/** A private apt state: its directory and the apt-get options that point apt at it. */
export interface AptRoot {
  dir: string
  options: string[]
  /** Where downloaded .deb files are kept (shared by every set of this root). */
  debs: string
  /** The sources' text (their Signed-By keyrings check copied-in lists). */
  sources: string
  /** The stamp of the lists this home fetched or verified (./lists-verify.ts). */
  stamp: string
  /** The user apt drops to for downloads: _apt as root, as apt does by default; this user otherwise. */
  sandboxUser: string
}

/** True when the host has apt's _apt user. */
function haveAptUser(): boolean {
  try {
    return /^_apt:/m.test(readFileSync('/etc/passwd', 'utf8'))
  } catch {
    return false
  }
}

/** The text of the host's apt sources (what the resolution depends on). */
function hostSources(): string {
  const parts: string[] = []
  const main = '/etc/apt/sources.list'
  if (existsSync(main)) parts.push(readFileSync(main, 'utf8'))
  const dir = '/etc/apt/sources.list.d'
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) if (/\.(list|sources)$/.test(f)) parts.push(f, readFileSync(join(dir, f), 'utf8'))
  }
  return parts.join('\n')
}

/**
 * The apt state for `home`: one per sources text, so that another mirror
 * never mixes its lists or versions with the host's.
 */
export function aptRoot(home: string, sources = process.env.XCLUSTER_APT_SOURCES || undefined): AptRoot {
  if (sources && !existsSync(sources)) throw new MissingDependencyError(`XCLUSTER_APT_SOURCES names ${sources}, which does not exist`)
  const text = sources ? `${basename(sources)}\n${readFileSync(sources, 'utf8')}` : hostSources()
  const dir = join(home, 'packages', `apt-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`)
  for (const d of ['lists/partial', 'cache/archives/partial', 'state', 'debs', 'etc/sources.list.d']) mkdirSync(join(dir, d), { recursive: true })
  if (!existsSync(join(dir, 'status'))) writeFileSync(join(dir, 'status'), '')
  const sandboxUser = process.getuid?.() === 0 ? (haveAptUser() ? '_apt' : 'root') : (process.env.USER ?? 'nobody')
  const options = [
    '-o', `Dir::State=${dir}/state`,
    '-o', `Dir::State::Lists=${dir}/lists`,
    '-o', `Dir::State::status=${dir}/status`,
    '-o', `Dir::State::extended_states=${dir}/state/extended_states`,
    '-o', `Dir::Cache=${dir}/cache`,
    // The state is this user's own: no lock on the host's. Fetching drops to _apt as root (./fetch.ts: through a
    // directory _apt can reach, as a home under /root is not); a user cannot switch users, so it fetches as itself.
    '-o', 'Debug::NoLocking=1',
    '-o', `APT::Sandbox::User=${sandboxUser}`,
    '-o', 'APT::Install-Recommends=0',
    '-o', 'APT::Install-Suggests=0',
    // A name is a name: no regex or glob fallback (else `hell.` or `frr+` would install whatever matches).
    '-o', 'APT::Cmd::Pattern-Only=1',
  ]
  if (sources) {
    const name = /\.sources$/.test(sources) ? 'own.sources' : 'own.list'
    copyFileSync(sources, join(dir, 'etc', 'sources.list.d', name))
    writeFileSync(join(dir, 'etc', 'sources.list'), '')
    options.push('-o', `Dir::Etc::SourceList=${dir}/etc/sources.list`, '-o', `Dir::Etc::SourceParts=${dir}/etc/sources.list.d`)
  }
  return { dir, options, debs: join(dir, 'debs'), sources: sources ? readFileSync(sources, 'utf8') : text, stamp: join(dir, 'lists.stamp'), sandboxUser }
}

export function aptGet(): string {
  const p = which('apt-get')
  if (!p) throw new MissingDependencyError('apt-get is not on PATH: packages for the VMs need a Debian host (its apt resolves them)')
  return p
}

/** The problems apt printed (E: and W: lines and unmet dependencies), one per line. */
export function aptErrors(output: string): string[] {
  return output.split('\n').map((l) => l.trim()).filter((l) => /^(E|Err):/.test(l)).map((l) => l.replace(/^(E|Err):\s*/, ''))
}

/** True when the lists of `root` were fetched. */
export function haveLists(root: AptRoot): boolean {
  return readdirSync(join(root.dir, 'lists')).some((f) => f.endsWith('Packages') || f.endsWith('Packages.lz4'))
}

/** A stamp of the lists (their names and times): a resolution is valid while it is the same. */
export function listsStamp(root: AptRoot): string {
  const lists = join(root.dir, 'lists')
  const files = readdirSync(lists).filter((f) => f !== 'partial' && f !== 'lock').sort()
  return createHash('sha256').update(files.map((f) => `${f} ${statSync(join(lists, f)).mtimeMs}`).join('\n')).digest('hex').slice(0, 16)
}

/** The `Inst` lines of a simulated install: the packages apt would unpack, in its order. */
export function parseSimulation(stdout: string): ResolvedPackage[] {
  const out: ResolvedPackage[] = []
  for (const m of stdout.matchAll(/^Inst (\S+) \((\S+) .*?\[([a-z0-9]+)\]\)/gm)) out.push({ name: m[1], version: m[2], arch: m[3] })
  return out
}

/** What apt said about `names` that it could not install, one problem per package (or per conflict). */
export function resolutionProblems(output: string, names: string[]): string[] {
  const problems: string[] = []
  for (const m of output.matchAll(/^E: Unable to locate package (\S+)/gm)) {
    problems.push(`package ${m[1]}: not in the Debian archive the host's apt knows (no package of that name)`)
  }
  for (const m of output.matchAll(/^E: Package '([^']+)' has no installation candidate/gm)) {
    const providers = [...output.matchAll(/^ {2}(\S+) \S+$/gm)].map((p) => p[1])
    problems.push(`package ${m[1]}: has no installation candidate${providers.length ? ` (it is virtual; name one of: ${providers.slice(0, 8).join(', ')})` : ''}`)
  }
  for (const m of output.matchAll(/^E: Version '([^']+)' for '([^']+)' was not found/gm)) problems.push(`package ${m[2]}: no version ${m[1]}`)
  const unmet = [...output.matchAll(/^ (\S+) : ((?:Pre-)?Depends|Conflicts|Breaks): (.+)$/gm)].map((m) => `${m[1]} ${m[2].toLowerCase()} ${m[3].trim()}`)
  if (unmet.length) problems.push(`packages ${names.join(', ')} cannot be installed together: ${unmet.join('; ')}`)
  if (!problems.length) {
    const errs = aptErrors(output)
    problems.push(`packages ${names.join(', ')}: apt could not resolve them${errs.length ? `: ${errs.join('; ')}` : ''}`)
  }
  return problems
}

/** Resolve `names` with their dependency closure; the packages, or every problem apt reported. */
export async function resolvePackages(root: AptRoot, names: string[]): Promise<{ packages: ResolvedPackage[]; problems: string[] }> {
  const r = await execa(aptGet(), [...root.options, '-s', '-q', 'install', ...names], { reject: false, all: true, env: { LC_ALL: 'C' } })
  const packages = parseSimulation(r.stdout)
  // A name ending in + that no package has is apt's "install NAME-without-+": not what was asked for (g++ is a package).
  const misread = names.filter((n) => n.endsWith('+') && !packages.some((p) => p.name === n))
  if (r.exitCode === 0 && packages.length && misread.length) {
    return { packages: [], problems: misread.map((n) => `package ${n}: not in the Debian archive the host's apt knows (apt would read the trailing + as "install ${n.replace(/\++$/, '')}"; name that package instead)`) }
  }
  if (r.exitCode === 0 && packages.length) return { packages, problems: [] }
  return { packages: [], problems: resolutionProblems(r.all ?? '', names) }
}

/** The file name apt gives the .deb of `p` (an epoch's colon as %3a). */
export function debFile(p: ResolvedPackage): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.arch}.deb`
}
