// Builds a kernel for the VMs (setup for the harness's own, `xc kernel
// build` for any): configure (configure.ts), make vmlinux and the modules in
// an object tree of its own (O=kernels/<name>/build), install the modules
// stripped beside the vmlinux (kernels/<name>/out), and record what was built.
// A kernel from Debian's source is cached by the hash of the source version,
// the fragments and BUILD_VERSION: a second setup does nothing. A user's own tree
// is made again at every build (make redoes only what changed). A fragment of
// Debian's source is made in the default kernel's object tree, so that make
// redoes only what the fragment changes (the default's result stays in its out/).
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import { KernelBuildError } from '../errors.ts'
import { withDirLock } from '../host/dir-lock.ts'
import { DEBIAN_KERNEL, DEFAULT_KERNEL, kernelPaths } from '../host/home.ts'
import { which } from '../host/which.ts'
import { checkConfig, configSourceProblems, configureSteps, fragmentText, FRAGMENTS, type ConfigSource } from './configure.ts'
import { debianSourceTree, debianSourceVersion, sourceTreeProblems } from './source.ts'

export interface KernelBuildOptions {
  home: string
  /** The name a cluster boots it by (`kernel: NAME`); default the harness's own, `xcluster`. */
  name?: string
  /** A kernel tree of the user's; default Debian's linux-source-6.1, unpacked in the home. */
  source?: string
  /** A whole config of the user's; the harness's needs are merged in. */
  config?: string
  /** A fragment of the user's, merged last onto the harness's config. */
  fragment?: string
  /** make -j (default: the machine's cores). */
  jobs?: number
  log?: (line: string) => void
}

export interface BuiltKernel {
  name: string
  /** The vmlinux, booted through its PVH entry. */
  vmlinux: string
  /** Its modules: <out>/lib/modules/<release>. */
  modulesDir: string
  release: string
  /** The .config it was built with. */
  config: string
  /** True when it was already built and nothing was done. */
  cached: boolean
  /** Wall time of this call. */
  seconds: number
  /** Options of the harness's fragments the tree did not take (a tree other than Debian's). */
  warnings: string[]
}

interface KernelMeta {
  name: string
  key: string
  release: string
  source: string
  how: ConfigSource
  builtAt: string
  seconds: number
  warnings: string[]
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,31}$/

/** Problems of the options of a build, all at once; nothing is made when there are any. */
export function kernelBuildProblems(o: Omit<KernelBuildOptions, 'home' | 'log'>): string[] {
  const problems: string[] = []
  const name = o.name ?? DEFAULT_KERNEL
  if (!NAME_RE.test(name)) problems.push(`Expected \`--name\` to be 1-32 lower-case letters, digits, ., _ or - (a kernel's name), got \`${name}\``)
  if (name === DEBIAN_KERNEL) problems.push(`\`${DEBIAN_KERNEL}\` is Debian's packaged kernel; give your kernel another --name`)
  if (name === DEFAULT_KERNEL && (o.source || o.config || o.fragment)) {
    problems.push(`\`${DEFAULT_KERNEL}\` is the harness's own kernel; give a kernel built from --source, --config or --config-fragment a --name of its own`)
  }
  if (o.config && o.fragment) problems.push('give --config (a whole config) or --config-fragment (merged onto the harness\'s config), not both')
  if (o.source) problems.push(...sourceTreeProblems(o.source))
  problems.push(...configSourceProblems(howOf(o)))
  if (o.jobs !== undefined && (!Number.isInteger(o.jobs) || o.jobs < 1 || o.jobs > 256)) problems.push(`Expected \`--jobs\` to be an integer 1-256, got \`${o.jobs}\``)
  for (const tool of ['make', 'gcc', 'flex', 'bison', 'bc']) if (!which(tool)) problems.push(`${tool} is not installed: run \`npm run setup\` (it installs the kernel build's packages)`)
  return problems
}

function howOf(o: Pick<KernelBuildOptions, 'config' | 'fragment'>): ConfigSource {
  if (o.config) return { kind: 'config', file: resolve(o.config) }
  if (o.fragment) return { kind: 'fragment', file: resolve(o.fragment) }
  return { kind: 'harness' }
}

/**
 * What the build makes, as a number: raise it when a change here changes the
 * result (make's targets or flags, the install). Not the code's hash: a
 * change to a log line must not cost every home a kernel build of minutes.
 */
const BUILD_VERSION = 1

/** The hash a kernel from Debian's source is cached by: its name, the source package, the fragments, BUILD_VERSION. */
export function cacheKey(name: string, sourceVersion: string, how: ConfigSource): string {
  const h = createHash('sha256').update(JSON.stringify({ v: BUILD_VERSION, name, sourceVersion }))
  for (const f of FRAGMENTS) h.update(fragmentText(f))
  if (how.kind !== 'harness') h.update(how.kind).update(readFileSync(how.file))
  return h.digest('hex').slice(0, 16)
}

/** The kernel `name` built in `home`, if there is one whose files are all there. */
export function builtKernel(home: string, name: string): (BuiltKernel & { key: string }) | undefined {
  const p = kernelPaths(home, name)
  let meta: KernelMeta
  try {
    meta = JSON.parse(readFileSync(p.meta, 'utf8')) as KernelMeta
  } catch {
    return undefined
  }
  const k = { name, key: meta.key, vmlinux: join(p.out, 'vmlinux'), modulesDir: join(p.out, 'lib', 'modules', meta.release), release: meta.release, config: join(p.out, 'config'), cached: true, seconds: 0, warnings: meta.warnings }
  return existsSync(k.vmlinux) && existsSync(join(k.modulesDir, 'modules.dep')) ? k : undefined
}

async function make(args: string[], env: Record<string, string>, log: string, what: string): Promise<void> {
  const r = await execa('make', args, { env: { ...env, LC_ALL: 'C' }, reject: false, all: true, stdin: 'ignore' })
  writeFileSync(log, `$ make ${args.join(' ')}\n${r.all ?? ''}\n`, { flag: 'a' })
  if (r.exitCode !== 0) {
    const tail = (r.all ?? '').split('\n').slice(-40).join('\n')
    throw new KernelBuildError([`${what} failed (make exit ${r.exitCode ?? r.signal})`], { log, logTail: tail })
  }
}

/** Build (or find built) the kernel `opts.name`. */
export async function buildKernel(opts: KernelBuildOptions): Promise<BuiltKernel> {
  const t0 = Date.now()
  const log = opts.log ?? (() => {})
  const name = opts.name ?? DEFAULT_KERNEL
  const problems = kernelBuildProblems(opts)
  if (problems.length) throw new KernelBuildError(problems)
  const how = howOf(opts)
  const p = kernelPaths(opts.home, name)
  mkdirSync(p.dir, { recursive: true })
  return withDirLock(join(p.dir, '.lock'), async () => {
    const fromDebian = !opts.source
    const key = fromDebian ? cacheKey(name, await debianSourceVersion(), how) : `source:${resolve(opts.source!)}`
    const found = builtKernel(opts.home, name)
    if (fromDebian && found?.key === key) {
      log(`kernel ${name} is up to date (${found.release}, ${p.out})`)
      return { ...found, seconds: (Date.now() - t0) / 1000 }
    }
    const src = fromDebian ? await withDirLock(join(opts.home, '.kernel-src.lock'), () => debianSourceTree(opts.home, log), 10 * 60_000, 'the kernel source') : resolve(opts.source!)
    // A fragment of Debian's source is made in the default kernel's object tree (under its lock):
    // make then redoes only what the fragment changes. A copy of the tree would not do: objtool,
    // built with absolute paths, is made again in a copy, and every object is then older than it.
    const shared = kernelPaths(opts.home, DEFAULT_KERNEL)
    const objtree = fromDebian && how.kind === 'fragment' && existsSync(join(shared.build, 'vmlinux')) ? shared.build : p.build
    mkdirSync(objtree, { recursive: true })
    const inTree = (fn: () => Promise<BuiltKernel>): Promise<BuiltKernel> =>
      objtree === p.build ? fn() : withDirLock(join(shared.dir, '.lock'), fn, 60 * 60_000, `the object tree of kernel ${DEFAULT_KERNEL}`)
    return inTree(async () => {
      const buildLog = join(p.dir, 'build.log')
      writeFileSync(buildLog, '')
      const steps = configureSteps(src, objtree, how)
      steps.prepare()
      log(`configuring kernel ${name} (${how.kind === 'harness' ? "the harness's config" : how.kind === 'fragment' ? `the harness's config and ${how.file}` : `${how.file} with the harness's needs`}) ...`)
      await make(steps.make.args, steps.make.env, buildLog, 'configuring')
      const checked = checkConfig(objtree, how)
      if (checked.problems.length) throw new KernelBuildError(checked.problems, { log: join(objtree, '.config') })
      for (const w of checked.warnings) log(`not in this kernel: ${w}`)
      const jobs = opts.jobs ?? availableParallelism()
      log(`make -j${jobs} vmlinux modules in ${objtree} (minutes; the log is ${buildLog}) ...`)
      await make(['-C', objtree, `-j${jobs}`, 'vmlinux', 'modules'], {}, buildLog, 'building')
      const release = readFileSync(join(objtree, 'include', 'config', 'kernel.release'), 'utf8').trim()
      const out = p.out + '.tmp'
      rmSync(out, { recursive: true, force: true })
      mkdirSync(out, { recursive: true })
      const depmod = which('depmod')
      await make(['-C', objtree, 'modules_install', `INSTALL_MOD_PATH=${out}`, 'INSTALL_MOD_STRIP=1', ...(depmod ? [`DEPMOD=${depmod}`] : [])], {}, buildLog, 'installing the modules')
      for (const l of ['build', 'source']) rmSync(join(out, 'lib', 'modules', release, l), { force: true })
      cpSync(join(objtree, 'vmlinux'), join(out, 'vmlinux'))
      cpSync(join(objtree, '.config'), join(out, 'config'))
      rmSync(p.out, { recursive: true, force: true })
      renameSync(out, p.out)
      const seconds = (Date.now() - t0) / 1000
      const meta: KernelMeta = { name, key, release, source: src, how, builtAt: new Date().toISOString(), seconds, warnings: checked.warnings }
      writeFileSync(p.meta, JSON.stringify(meta, null, 2) + '\n')
      log(`kernel ${name} ${release} built in ${seconds.toFixed(0)} s: ${join(p.out, 'vmlinux')}`)
      return { ...builtKernel(opts.home, name)!, cached: false, seconds }
    })
  }, 60 * 60_000, `the build of kernel ${name}`)
}
