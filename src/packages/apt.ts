// Debian packages for the VMs, resolved by apt's own resolver against the
// host's release, in a private apt state under XCLUSTER_HOME: its own
// package lists and an empty dpkg status, so the result is the whole
// dependency closure (a VM has none of the host's packages), and nothing of
// the host's apt state or dpkg database is read or changed. The host's
// sources, keyrings and apt.conf (proxies) apply, unless XCLUSTER_APT_SOURCES
// names a sources file of its own (a local mirror).
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
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
  const options = [
    '-o', `Dir::State=${dir}/state`,
    '-o', `Dir::State::Lists=${dir}/lists`,
    '-o', `Dir::State::status=${dir}/status`,
    '-o', `Dir::State::extended_states=${dir}/state/extended_states`,
    '-o', `Dir::Cache=${dir}/cache`,
    // The state is this user's own: no lock on the host's, and no drop to _apt (which cannot enter a 0700 home).
    '-o', 'Debug::NoLocking=1',
    '-o', `APT::Sandbox::User=${process.getuid?.() === 0 ? 'root' : (process.env.USER ?? 'nobody')}`,
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
  return { dir, options, debs: join(dir, 'debs') }
}

function aptGet(): string {
  const p = which('apt-get')
  if (!p) throw new MissingDependencyError('apt-get is not on PATH: packages for the VMs need a Debian host (its apt resolves them)')
  return p
}

/** The problems apt printed (E: and W: lines and unmet dependencies), one per line. */
function aptErrors(output: string): string[] {
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

/** Fetch the package lists of `root` (apt-get update); the problems, if it failed. */
export async function updateLists(root: AptRoot): Promise<string[]> {
  const r = await execa(aptGet(), [...root.options, '-q', 'update'], { reject: false, all: true, env: { LC_ALL: 'C' } })
  // Not the Err: lines: apt prints one for each compression it tries of a repository without a Release
  // file, then gets the next; a list it did not get is an E: or `W: Failed to fetch` line.
  const errs = (r.all ?? '').split('\n').map((l) => l.trim())
    .filter((l) => /^(E:|W: Failed to fetch|W: Some index files failed)/.test(l)).map((l) => l.replace(/^[EW]:\s*/, ''))
  if (r.exitCode === 0 && haveLists(root) && !errs.length) return []
  return [`apt-get update of the private package lists (${root.dir}) failed: ${errs.join('; ') || (r.all ?? '').trim().split('\n').slice(-3).join(' ')}`]
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
  if (r.exitCode === 0 && packages.length) return { packages, problems: [] }
  return { packages: [], problems: resolutionProblems(r.all ?? '', names) }
}

/** The file name apt gives the .deb of `p` (an epoch's colon as %3a). */
export function debFile(p: ResolvedPackage): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.arch}.deb`
}

/**
 * The .deb files of `packages` in root.debs, downloading those not there yet
 * (apt-get download checks them against the lists' hashes). Downloads go to
 * a directory of this process and are renamed in when whole.
 */
export async function downloadPackages(root: AptRoot, packages: ResolvedPackage[]): Promise<{ files: string[]; problems: string[] }> {
  const missing = packages.filter((p) => !existsSync(join(root.debs, debFile(p))))
  if (missing.length) {
    const tmp = join(root.debs, `.partial-${process.pid}`)
    rmSync(tmp, { recursive: true, force: true })
    mkdirSync(tmp)
    try {
      const r = await execa(aptGet(), [...root.options, '-q', 'download', ...missing.map((p) => `${p.name}=${p.version}`)], {
        cwd: tmp, reject: false, all: true, env: { LC_ALL: 'C' },
      })
      for (const p of missing) {
        const f = join(tmp, debFile(p))
        if (existsSync(f)) renameSync(f, join(root.debs, debFile(p)))
      }
      const failed = missing.filter((p) => !existsSync(join(root.debs, debFile(p))))
      if (failed.length) {
        const lines = (r.all ?? '').split('\n')
        // apt's own line about the package, else everything apt reported, else its exit code.
        const why = (p: ResolvedPackage): string =>
          lines.find((l) => l.includes(`/${p.name}_`) && /^(E|Err|W)/.test(l.trim()))?.trim() || aptErrors(r.all ?? '').join('; ') || `apt-get download exited ${r.exitCode}`
        return { files: [], problems: failed.map((p) => `package ${p.name} ${p.version}: download failed: ${why(p)}`) }
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }
  return { files: packages.map((p) => join(root.debs, debFile(p))), problems: [] }
}
