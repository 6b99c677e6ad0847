// The stock baseline's initramfs: what one VM boots with before the harness's
// tuning (gzip, the virtio modules signed as Debian packages them).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { loadImage } from '../src/index.ts'
import { baseEntries, BASE_MODULES } from '../src/image/build-image.ts'
import { cpioGz } from '../src/image/cpio.ts'
import { moduleClosure, parseModulesDep } from '../src/image/modules.ts'

/** The stock baseline's initramfs: the base image's files with the virtio modules as packaged (signed), gzip. */
export async function stockInitrd(dir: string, image: ReturnType<typeof loadImage>): Promise<string> {
  const deps = parseModulesDep(readFileSync(join(image.modulesDir, 'modules.dep'), 'utf8'))
  const { paths } = moduleClosure(deps, BASE_MODULES)
  const file = join(dir, 'stock.cpio.gz')
  writeFileSync(file, cpioGz(await baseEntries(image.modulesDir, image.kernelVersion, paths, { signedModules: true })))
  return file
}
