// Which kernel a cluster boots, and its image: the harness's own (the
// default, built by setup from Debian's kernel source), Debian's cloud kernel
// as packaged (`kernel: 'debian'`), a kernel built by `xc kernel build
// --name=NAME` (`kernel: 'NAME'`), or a kernel file of the user's (a path,
// with its modules directory).
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DEBIAN_KERNEL, DEFAULT_KERNEL, imagePaths, kernelPaths } from '../host/home.ts'
import { buildImage, loadImage, type ImageManifest } from '../image/build-image.ts'
import { buildKernel, builtKernel, type BuiltKernel, type KernelBuildOptions } from '../kernel/build-kernel.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import { MissingDependencyError } from '../errors.ts'

/** A kernel given by name (no `/`): `xcluster`, `debian` or one built with `xc kernel build --name`. A path has a `/` (`./vmlinuz`). */
export function isKernelName(kernel: string): boolean {
  return !kernel.includes('/')
}

/** The home whose image/ is the image of kernel `name`. */
function imageHomeOf(home: string, name: string): string {
  return kernelPaths(home, name).imageHome
}

/** Problems of the kernel `spec` names that only this host can tell (checked before anything starts). */
export function kernelProblems(spec: Pick<ClusterSpec, 'home' | 'kernel' | 'modules'>): string[] {
  const k = spec.kernel ?? DEFAULT_KERNEL
  if (!isKernelName(k)) {
    const problems: string[] = []
    if (!existsSync(k)) problems.push(`Kernel ${k} does not exist (option \`kernel\` or XCLUSTER_KERNEL)`)
    if (!spec.modules) problems.push(`A custom kernel needs its modules directory (lib/modules/<version>) in option \`modules\` or XCLUSTER_MODULES`)
    else if (!existsSync(spec.modules)) problems.push(`Modules directory ${spec.modules} does not exist (option \`modules\` or XCLUSTER_MODULES)`)
    return problems
  }
  if (k === DEFAULT_KERNEL) {
    const paths = imagePaths(spec.home)
    if (existsSync(paths.manifest) && existsSync(paths.kernel) && existsSync(paths.initrd)) return []
    return [`No VM image in ${paths.dir}. Run \`npm run setup\` first (or set XCLUSTER_HOME to where it was built)`]
  }
  // Debian's kernel is fetched with apt-get when its image is not there yet.
  if (k === DEBIAN_KERNEL || builtKernel(spec.home, k)) return []
  return [`No kernel \`${k}\` in ${spec.home}: build it with \`xc kernel build --name=${k} ...\`, or name \`${DEFAULT_KERNEL}\`, \`${DEBIAN_KERNEL}\` or a path (with a /)`]
}

/**
 * The image for `spec`'s kernel: the default's as setup built it; the image
 * of Debian's kernel, of a kernel built by name, or of a kernel file, made
 * now when it is missing or was made by another version of the harness
 * (seconds; an image up to date is found in milliseconds).
 */
export async function imageFor(spec: Pick<ClusterSpec, 'home' | 'kernel' | 'modules'>): Promise<ImageManifest> {
  const k = spec.kernel ?? DEFAULT_KERNEL
  if (k === DEFAULT_KERNEL) return loadImage(spec.home)
  if (k === DEBIAN_KERNEL) return buildImage({ home: imageHomeOf(spec.home, k), packaged: true })
  if (isKernelName(k)) {
    const built = builtKernel(spec.home, k)
    if (!built) throw new MissingDependencyError(kernelProblems(spec).join('; '))
    return buildImage({ home: imageHomeOf(spec.home, k), kernel: built.vmlinux, modules: built.modulesDir, allModules: true })
  }
  const key = createHash('sha256').update(`${k}\0${spec.modules}`).digest('hex').slice(0, 12)
  return buildImage({ home: join(spec.home, 'kernels', `file-${key}`), kernel: k, modules: spec.modules })
}

/** Build (or find built) the kernel `opts.name` and its image (every module of it on its tools disk). */
export async function buildKernelImage(opts: KernelBuildOptions): Promise<{ kernel: BuiltKernel; image: ImageManifest }> {
  const kernel = await buildKernel(opts)
  const image = await buildImage({ home: imageHomeOf(opts.home, kernel.name), kernel: kernel.vmlinux, modules: kernel.modulesDir, allModules: true, log: opts.log })
  return { kernel, image }
}

/**
 * What setup builds: the harness's kernel and its image (the default), and
 * the image of Debian's kernel. With XCLUSTER_KERNEL set to a file, the
 * default image is that kernel's instead, as before the harness built its own.
 */
export async function setupImages(home: string, log: (s: string) => void): Promise<{ image: ImageManifest; debian: ImageManifest; kernel?: BuiltKernel }> {
  const file = process.env.XCLUSTER_KERNEL && !isKernelName(process.env.XCLUSTER_KERNEL) ? process.env.XCLUSTER_KERNEL : undefined
  let kernel: BuiltKernel | undefined
  let image: ImageManifest
  if (file) image = await buildImage({ home, kernel: file, modules: process.env.XCLUSTER_MODULES || undefined, log })
  else ({ kernel, image } = await buildKernelImage({ home, log }))
  const debian = await buildImage({ home: imageHomeOf(home, DEBIAN_KERNEL), packaged: true, log: (s) => log(`debian: ${s}`) })
  return { image, debian, kernel }
}

export { builtKernel }
