// Where the harness keeps its image (cache) and its per-cluster state.
import { homedir } from 'node:os'
import { join } from 'node:path'

/** The harness's home: `$XCLUSTER_HOME`, else `$XDG_CACHE_HOME/xcluster`, else `~/.cache/xcluster`. */
export function xclusterHome(override?: string): string {
  if (override) return override
  if (process.env.XCLUSTER_HOME) return process.env.XCLUSTER_HOME
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(cache, 'xcluster')
}

export interface ImagePaths {
  dir: string
  /** The kernel as packaged (a bzImage). */
  kernel: string
  /** Its uncompressed vmlinux, booted through PVH when the kernel has the entry note. */
  vmlinux: string
  /** The unpacked modules tree of the default kernel: <dir>/kernel-pkg/lib/modules/<version>. */
  kernelPkg: string
  initrd: string
  tools: string
  manifest: string
}

/** Files of the built image under `home`. */
export function imagePaths(home: string): ImagePaths {
  const dir = join(home, 'image')
  return {
    dir,
    kernel: join(dir, 'vmlinuz'),
    vmlinux: join(dir, 'vmlinux'),
    kernelPkg: join(dir, 'kernel-pkg'),
    initrd: join(dir, 'base.cpio'),
    tools: join(dir, 'tools.ext4'),
    manifest: join(dir, 'manifest.json'),
  }
}

/** Directory holding one state directory per cluster. */
export function runDir(home: string): string {
  return join(home, 'run')
}

/** Directory holding the snapshots, one directory per key. */
export function snapshotsDir(home: string): string {
  return join(home, 'snapshots')
}

/** The kernel the VMs boot when a cluster names none: the harness's own, built by setup. */
export const DEFAULT_KERNEL = 'xcluster'
/** Debian's cloud kernel as packaged (the kernel before the harness built its own). */
export const DEBIAN_KERNEL = 'debian'

export interface KernelPaths {
  dir: string
  /** The object tree (make O=...). */
  build: string
  /** The result: vmlinux, config and lib/modules/<release>. */
  out: string
  /** What was built, from what (kernel.json). */
  meta: string
  /** A home of its own whose image/ is this kernel's, except for the default kernel, whose image is the home's. */
  imageHome: string
}

/** Files of the kernel called `name` under `home` (kernels/<name>/). */
export function kernelPaths(home: string, name: string): KernelPaths {
  const dir = join(home, 'kernels', name)
  return { dir, build: join(dir, 'build'), out: join(dir, 'out'), meta: join(dir, 'kernel.json'), imageHome: name === DEFAULT_KERNEL ? home : dir }
}

/** Where setup unpacks Debian's kernel source (linux-source-6.1), shared by every kernel built from it. */
export function kernelSourceDir(home: string): string {
  return join(home, 'kernel-src')
}
