// Builds the VM image into the cache: the kernel (Debian's cloud kernel by
// default, or the user's), and the base initramfs written here in TypeScript.
import { createHash } from 'node:crypto'
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync, mkdtempSync } from 'node:fs'
import { which } from '../host/which.ts'
import { buildToolsDisk, TOOL_PROGRAMS } from './tools-disk.ts'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { MissingDependencyError } from '../errors.ts'
import { cpioArchive, CpioList, type CpioEntry } from './cpio.ts'
import { BASE_GROUP as GROUP, BASE_PASSWD as PASSWD } from '../plan/model.ts'
import { codeHash } from '../host/code-hash.ts'
import { BOOT_SCRIPT, CTL_SCRIPT, INITTAB, LOGIN_SCRIPT, PROFILE } from './guest-files.ts'
import { reseedElf } from './reseed-elf.ts'
import { osRelease } from './os-release.ts'
import { imagePaths, xclusterHome } from '../host/home.ts'
import { extractPvhKernel, hasPvhNote } from './kernel-elf.ts'
import { ensureModulesDep, moduleClosure, moduleName, parseModulesDep, stripModuleSignature, trimmedModulesDep } from './modules.ts'

/** Modules loaded at boot: virtio networking (their dependencies come from modules.dep). */
export const BOOT_MODULES = ['virtio_pci', 'virtio_net']
/** Modules shipped in the base image: those, and virtio_blk for the tools disk. */
export const BASE_MODULES = [...BOOT_MODULES, 'virtio_blk']
/** The Debian meta package whose kernel is the default. */
export const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64'
export const BUSYBOX = '/bin/busybox'
const IMAGE_SRC = fileURLToPath(new URL('.', import.meta.url))

export interface ImageManifest {
  key: string
  /** The kernel the VMs boot: the PVH vmlinux when there is one, else the bzImage. */
  kernel: string
  /** The kernel as packaged (bzImage); the benchmark's stock baseline boots it. */
  bzImage: string
  /** How `kernel` boots, and why not PVH when it does not. */
  kernelBoot: { kind: 'pvh' | 'bzImage'; reason?: string }
  modulesDir: string
  kernelVersion: string
  initrd: string
  modules: string[]
  initrdBytes: number
  /** imageCodeHash() of the code that built it. */
  codeHash: string
  /** The tools disk (host programs and network modules), attached when a cluster asks for tools. */
  tools: string
}

export interface BuildImageOptions {
  home?: string
  /** Kernel image; default `$XCLUSTER_KERNEL`, else Debian's cloud kernel. */
  kernel?: string
  /** Its modules directory (lib/modules/<version>); default `$XCLUSTER_MODULES`. */
  modules?: string
  /** Debian's cloud kernel as packaged, whatever `$XCLUSTER_KERNEL` says. */
  packaged?: boolean
  /** Every module of the kernel on the tools disk (a kernel built for the VMs), not only the network ones of TOOL_MODULE_DIRS. */
  allModules?: boolean
  log?: (line: string) => void
}

/** A hash of the code that makes the image: any change to it makes a new image. */
export function imageCodeHash(dir?: string): string {
  return dir ? codeHash(dir, false) : codeHash(IMAGE_SRC)
}

/** The kernel package `linux-image-cloud-amd64` stands for, e.g. linux-image-6.1.0-57-cloud-amd64. */
async function resolveKernelPackage(): Promise<string> {
  const { stdout } = await execa('apt-cache', ['depends', KERNEL_META_PACKAGE], { reject: false })
  const m = /Depends:\s+(linux-image-\S+)/.exec(stdout)
  if (!m) {
    throw new MissingDependencyError(
      `apt-cache knows no ${KERNEL_META_PACKAGE}; run \`apt-get update\` (as root) or give a kernel with XCLUSTER_KERNEL and XCLUSTER_MODULES`,
    )
  }
  return m[1]
}

/** Debian's cloud kernel, downloaded with apt-get and unpacked with dpkg -x (not installed). */
async function fetchDebianKernel(pkgDir: string, log: (s: string) => void): Promise<{ kernel: string; modulesDir: string }> {
  const found = findKernelIn(pkgDir)
  if (found) return found
  const pkg = await resolveKernelPackage()
  log(`downloading ${pkg} (apt-get download) ...`)
  const tmp = mkdtempSync(join(pkgDir + '.tmp-'))
  try {
    await execa('apt-get', ['download', pkg], { cwd: tmp })
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'))
    if (!deb) throw new MissingDependencyError(`apt-get download ${pkg} produced no .deb`)
    const x = join(tmp, 'x')
    await execa('dpkg', ['-x', join(tmp, deb), x])
    rmSync(pkgDir, { recursive: true, force: true })
    renameSync(x, pkgDir)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  const k = findKernelIn(pkgDir)
  if (!k) throw new MissingDependencyError(`${pkg} holds no boot/vmlinuz-* and lib/modules/*`)
  return k
}

function findKernelIn(pkgDir: string): { kernel: string; modulesDir: string } | undefined {
  const boot = join(pkgDir, 'boot')
  if (!existsSync(boot)) return undefined
  const vmlinuz = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'))
  if (!vmlinuz) return undefined
  const version = vmlinuz.slice('vmlinuz-'.length)
  const modulesDir = join(pkgDir, 'lib', 'modules', version)
  if (!existsSync(modulesDir)) return undefined
  return { kernel: join(boot, vmlinuz), modulesDir }
}

function fileKey(path: string): string {
  const s = statSync(path)
  return `${path}:${s.size}:${s.mtimeMs}`
}

/** The busybox applets as paths relative to / (bin/sh, sbin/ip, ...). */
async function busyboxApplets(): Promise<string[]> {
  const { stdout } = await execa(BUSYBOX, ['--list-full'])
  return stdout.split('\n').map((s) => s.trim()).filter(Boolean)
}

/** The modules built into the kernel of `modulesDir` (from its modules.builtin; none when it has no such file). */
export function builtinModules(modulesDir: string): Set<string> {
  const f = join(modulesDir, 'modules.builtin')
  return new Set(existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map(moduleName) : [])
}

/** Entries of the base initramfs. */
export async function baseEntries(modulesDir: string, kernelVersion: string, modulePaths: string[], opts: { signedModules?: boolean } = {}): Promise<CpioEntry[]> {
  const list = new CpioList()
  const add = (e: CpioEntry): void => list.add(e)
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'run', 'root', 'etc/init.d', 'var/log', 'mnt', 'xcluster/ovl']) {
    add({ type: 'dir', path: d })
  }
  add({ type: 'chardev', path: 'dev/console', major: 5, minor: 1 })
  add({ type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 })
  add({ type: 'file', path: 'bin/busybox', data: readFileSync(BUSYBOX), mode: 0o755 })
  for (const applet of await busyboxApplets()) {
    if (applet === 'bin/busybox') continue
    add({ type: 'symlink', path: applet, target: '/bin/busybox' })
  }
  add({ type: 'symlink', path: 'init', target: '/bin/busybox' })
  add({ type: 'file', path: 'etc/inittab', data: INITTAB })
  add({ type: 'file', path: 'etc/xcluster/boot', data: BOOT_SCRIPT, mode: 0o755 })
  add({ type: 'file', path: 'etc/xcluster/login', data: LOGIN_SCRIPT, mode: 0o755 })
  add({ type: 'file', path: 'bin/xc-ctl', data: CTL_SCRIPT, mode: 0o755 })
  // Run after a restore from a snapshot: the CRNG reseeds from what the host wrote to /dev/urandom.
  add({ type: 'file', path: 'bin/xc-reseed', data: reseedElf(), mode: 0o755 })
  add({ type: 'file', path: 'etc/profile', data: PROFILE })
  add({ type: 'file', path: 'etc/passwd', data: PASSWD })
  add({ type: 'file', path: 'etc/group', data: GROUP })
  // What the system is (xcluster's own test library reads it first); also where Debian keeps it.
  add({ type: 'file', path: 'etc/os-release', data: osRelease() })
  add({ type: 'file', path: 'usr/lib/os-release', data: osRelease() })
  // The boot modules this kernel has as modules (a kernel built for the VMs has them built in: an empty list).
  const builtin = builtinModules(modulesDir)
  add({ type: 'file', path: 'etc/xcluster/modules', data: BOOT_MODULES.filter((m) => !builtin.has(m)).join(' ') + '\n' })
  const modRoot = `lib/modules/${kernelVersion}`
  for (const p of modulePaths) {
    // Unsigned: init -> network went from 150-170 ms to 120-140 ms (3+3 boots each, TCG).
    const ko = readFileSync(join(modulesDir, p))
    add({ type: 'file', path: `${modRoot}/${p}`, data: opts.signedModules ? ko : stripModuleSignature(ko) })
  }
  // A modules.dep of just what is shipped, so that modprobe works in the guest.
  const deps = parseModulesDep(readFileSync(join(modulesDir, 'modules.dep'), 'utf8'))
  add({ type: 'file', path: `${modRoot}/modules.dep`, data: trimmedModulesDep(deps, modulePaths) })
  for (const f of ['modules.builtin', 'modules.order']) {
    if (existsSync(join(modulesDir, f))) add({ type: 'file', path: `${modRoot}/${f}`, data: readFileSync(join(modulesDir, f)) })
  }
  return list.entries
}

/** Where the kernel comes from: explicit option, environment, or Debian's package. */
export function kernelSource(opts: BuildImageOptions): { kernel?: string; modules?: string } {
  if (opts.packaged) return {}
  return {
    kernel: opts.kernel ?? (process.env.XCLUSTER_KERNEL || undefined),
    modules: opts.modules ?? (process.env.XCLUSTER_MODULES || undefined),
  }
}

/**
 * Build (or reuse) the image. A second call with the same inputs reads the
 * manifest, finds nothing changed and returns in milliseconds.
 */
export async function buildImage(opts: BuildImageOptions = {}): Promise<ImageManifest> {
  const log = opts.log ?? (() => {})
  const home = xclusterHome(opts.home)
  const paths = imagePaths(home)
  mkdirSync(paths.dir, { recursive: true })
  if (!existsSync(BUSYBOX)) {
    throw new MissingDependencyError(`${BUSYBOX} is missing: install busybox-static (apt-get install busybox-static)`)
  }

  const src = kernelSource(opts)
  let kernel: string
  let modulesDir: string
  if (src.kernel) {
    if (!existsSync(src.kernel)) throw new MissingDependencyError(`XCLUSTER_KERNEL ${src.kernel} does not exist`)
    if (!src.modules || !existsSync(src.modules)) {
      throw new MissingDependencyError(`A custom kernel needs its modules directory (lib/modules/<version>) in XCLUSTER_MODULES; got ${src.modules ?? 'nothing'}`)
    }
    kernel = src.kernel
    modulesDir = src.modules
  } else {
    ;({ kernel, modulesDir } = await fetchDebianKernel(paths.kernelPkg, log))
  }
  const kernelVersion = modulesDir.replace(/\/+$/, '').split('/').pop()!

  const codeHash = imageCodeHash()
  const toolKeys = TOOL_PROGRAMS.map((p) => which(p)).map((p) => (p ? fileKey(realpathSync(p)) : 'missing'))
  const key = [fileKey(kernel), modulesDir, fileKey(BUSYBOX), codeHash, osRelease(), ...toolKeys, ...(opts.allModules ? ['all-modules'] : [])].join('|')
  if (existsSync(paths.manifest) && existsSync(paths.initrd) && existsSync(paths.kernel) && existsSync(paths.tools)) {
    const old = JSON.parse(readFileSync(paths.manifest, 'utf8')) as ImageManifest
    if (old.key === key && existsSync(old.kernel)) {
      log(`image is up to date (${paths.dir})`)
      return old
    }
  }

  log(`building the base initramfs for kernel ${kernelVersion} ...`)
  const deps = parseModulesDep(await ensureModulesDep(modulesDir))
  const builtin = builtinModules(modulesDir)
  const { paths: modulePaths, missing } = moduleClosure(deps, BASE_MODULES.filter((m) => !builtin.has(m)))
  if (missing.length) {
    throw new MissingDependencyError(`kernel ${kernelVersion} has no module ${missing.join(', ')} (virtio networking); use a kernel with virtio_net`)
  }
  // Uncompressed: the guest skips gunzip of ~1.2 MB (to ~2.5 MB) at every boot. 8 + 8 boots
  // to 'xc-phase: ready', gzip median ~1.65 s, plain ~1.60 s. The cluster segment after it stays gzip.
  const initrd = cpioArchive(await baseEntries(modulesDir, kernelVersion, modulePaths))
  const tmpInitrd = paths.initrd + '.tmp'
  writeFileSync(tmpInitrd, initrd)
  renameSync(tmpInitrd, paths.initrd)
  log('building the tools disk (host programs, network modules, dropbear) ...')
  await buildToolsDisk(paths.tools + '.tmp', modulesDir, kernelVersion, await busyboxApplets(), opts.allModules)
  renameSync(paths.tools + '.tmp', paths.tools)
  copyFileSync(kernel, paths.kernel + '.tmp')
  renameSync(paths.kernel + '.tmp', paths.kernel)
  // PVH direct boot of the vmlinux skips the guest's decompressor (see kernel-elf.ts); a kernel
  // built for the VMs is its vmlinux already.
  const given = readFileSync(paths.kernel)
  const elfGiven = hasPvhNote(given)
  const pvh = elfGiven ? { elf: given } : await extractPvhKernel(given)
  rmSync(paths.vmlinux, { force: true })
  if (elfGiven) linkSync(paths.kernel, paths.vmlinux)
  else if ('elf' in pvh) {
    writeFileSync(paths.vmlinux + '.tmp', pvh.elf)
    renameSync(paths.vmlinux + '.tmp', paths.vmlinux)
  } else {
    log(`booting the bzImage as it is: ${pvh.reason}`)
  }
  const manifest: ImageManifest = {
    key,
    kernel: 'elf' in pvh ? paths.vmlinux : paths.kernel,
    bzImage: paths.kernel,
    kernelBoot: 'elf' in pvh ? { kind: 'pvh' } : { kind: 'bzImage', reason: pvh.reason },
    modulesDir,
    kernelVersion,
    initrd: paths.initrd,
    modules: modulePaths.map(moduleName),
    initrdBytes: initrd.length,
    codeHash,
    tools: paths.tools,
  }
  writeFileSync(paths.manifest, JSON.stringify(manifest, null, 2) + '\n')
  log(`image ready: ${manifest.kernel} (${manifest.kernelBoot.kind}), ${paths.initrd} (${(initrd.length / 1024).toFixed(0)} KiB, modules: ${manifest.modules.join(' ')}), ${paths.tools} (${(statSync(paths.tools).size / 1048576).toFixed(0)} MiB)`)
  return manifest
}

/** The built image, or an error that says to run setup. */
export function loadImage(home?: string): ImageManifest {
  const paths = imagePaths(xclusterHome(home))
  if (!existsSync(paths.manifest) || !existsSync(paths.initrd) || !existsSync(paths.kernel)) {
    throw new MissingDependencyError(
      `No VM image in ${paths.dir}. Run \`npm run setup\` (or \`npx xc setup\`) first, or set XCLUSTER_HOME to where it was built.`,
    )
  }
  const manifest = JSON.parse(readFileSync(paths.manifest, 'utf8')) as ImageManifest
  if (manifest.codeHash !== imageCodeHash() || !existsSync(manifest.kernel)) {
    throw new MissingDependencyError(`The VM image in ${paths.dir} was built by another version of xcluster. Run \`npm run setup\` to rebuild it.`)
  }
  return manifest
}
