// Debian's kernel source (the package linux-source-6.1, a tarball under
// /usr/src), unpacked once into the home and shared by every kernel built
// from it. Unpacking takes about 13 s and 1.5 GB here.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { MissingDependencyError } from '../errors.ts'
import { kernelSourceDir } from '../host/home.ts'

/** The Debian package of the source; its tarball. */
export const KERNEL_SOURCE_PACKAGE = 'linux-source-6.1'
export const KERNEL_SOURCE_TARBALL = `/usr/src/${KERNEL_SOURCE_PACKAGE}.tar.xz`

/** The installed source package: its version and the tarball's size and mtime (a rebuilt package is another source). */
export async function debianSourceVersion(): Promise<string> {
  if (!existsSync(KERNEL_SOURCE_TARBALL)) {
    throw new MissingDependencyError(
      `${KERNEL_SOURCE_TARBALL} is missing: the harness builds its kernel from Debian's ${KERNEL_SOURCE_PACKAGE}. ` +
        `Run \`npm run setup\`, or as root: apt-get install ${KERNEL_SOURCE_PACKAGE}`,
    )
  }
  const r = await execa('dpkg-query', ['-W', '-f=${Version}', KERNEL_SOURCE_PACKAGE], { reject: false })
  const s = statSync(KERNEL_SOURCE_TARBALL)
  return `${KERNEL_SOURCE_PACKAGE} ${r.exitCode === 0 ? r.stdout.trim() : 'unknown'} ${s.size} ${Math.round(s.mtimeMs)}`
}

/** The unpacked tree of Debian's source in `home`, unpacked now when absent or of another version. */
export async function debianSourceTree(home: string, log: (s: string) => void): Promise<string> {
  const version = await debianSourceVersion()
  const root = kernelSourceDir(home)
  const tree = join(root, KERNEL_SOURCE_PACKAGE)
  const stamp = join(root, 'source.txt')
  if (existsSync(join(tree, 'Makefile')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === version) return tree
  log(`unpacking ${KERNEL_SOURCE_TARBALL} into ${root} ...`)
  mkdirSync(root, { recursive: true })
  const tmp = mkdtempSync(join(root, '.unpack-'))
  try {
    await execa('tar', ['-xaf', KERNEL_SOURCE_TARBALL, '-C', tmp])
    const top = readdirSync(tmp)
    if (top.length !== 1 || !existsSync(join(tmp, top[0], 'Makefile'))) {
      throw new MissingDependencyError(`${KERNEL_SOURCE_TARBALL} holds no kernel tree (found ${top.join(', ') || 'nothing'})`)
    }
    rmSync(tree, { recursive: true, force: true })
    renameSync(join(tmp, top[0]), tree)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  writeFileSync(stamp, version)
  return tree
}

/** Problems of a user's tree given as `--source`: it must be a kernel tree with x86 in it. */
export function sourceTreeProblems(dir: string): string[] {
  if (!existsSync(dir)) return [`Kernel source ${dir} does not exist (--source)`]
  if (!existsSync(join(dir, 'Makefile')) || !existsSync(join(dir, 'Kconfig')) || !existsSync(join(dir, 'arch', 'x86'))) {
    return [`${dir} is not a Linux source tree (no Makefile, Kconfig and arch/x86 in it) (--source)`]
  }
  return []
}
