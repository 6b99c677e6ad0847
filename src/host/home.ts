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
