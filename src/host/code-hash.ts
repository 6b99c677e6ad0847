// A hash of the source files of one directory: what a cached artefact (the
// VM image, a package layer) was built by. The built package carries it as
// code-hash.json beside the compiled files (scripts/build.mjs), since the
// compiled text differs from the source it was made from.
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The hash of the .ts and .mjs files of `dir` (its stamp, if the package was built). */
export function codeHash(dir: string, useStamp = true): string {
  const stamp = join(dir, 'code-hash.json')
  if (useStamp && existsSync(stamp)) return (JSON.parse(readFileSync(stamp, 'utf8')) as { hash: string }).hash
  const h = createHash('sha256')
  for (const f of readdirSync(dir).filter((n) => /\.(ts|mjs)$/.test(n) && !n.endsWith('.d.ts')).sort()) h.update(f).update(readFileSync(join(dir, f)))
  return h.digest('hex').slice(0, 16)
}
