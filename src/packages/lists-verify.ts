// Checking package lists that were not fetched by this home (copied in with
// the cache), as apt checks what it fetches: each InRelease must carry a
// valid signature of a key the sources trust (their Signed-By keyrings,
// and apt's trusted.gpg and trusted.gpg.d), checked by gpgv, and each list
// file must have the sha256 that the signed InRelease gives for it
// (apt keeps them lz4-compressed: the hash is of what lz4 -dc gives). A
// list that no signed InRelease covers is not trusted. Used when the lists
// are not this home's (no valid stamp: below) and fetching them again
// failed (no network): so that an rsync'd cache imports nothing unverified.
// A home stamps the lists it fetched or verified: their fingerprints, under
// the cache's MAC (./trust.ts).
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { fingerprint, sealed, unsealed } from './trust.ts'

const listFiles = (lists: string): string[] => readdirSync(lists).filter((f) => !['partial', 'lock', 'auxfiles'].includes(f)).sort()

/** The stamp of the lists in `lists` as they are now (fetched by apt here, or verified). */
export function stampLists(key: Buffer, lists: string, stamp: string): void {
  writeFileSync(stamp, JSON.stringify(sealed(key, { files: listFiles(lists).map((f) => `${f} ${fingerprint(join(lists, f))}`) })) + '\n')
}

/** True when the lists in `lists` are those this home stamped. */
export function listsStamped(key: Buffer, lists: string, stamp: string): boolean {
  try {
    const s = JSON.parse(readFileSync(stamp, 'utf8')) as { files: string[] }
    return unsealed(key, s) && s.files.join('\n') === listFiles(lists).map((f) => `${f} ${fingerprint(join(lists, f))}`).join('\n')
  } catch {
    return false
  }
}

/** The keyrings the sources name (deb822 Signed-By:, one-line [signed-by=...]) and apt's global ones. */
export function trustedKeyrings(sources: string): string[] {
  const out = new Set<string>()
  for (const m of sources.matchAll(/^Signed-By:\s*(\/\S+)\s*$/gim)) out.add(m[1])
  for (const m of sources.matchAll(/signed-by=(\/[^\s\]]+)/gi)) out.add(m[1])
  if (existsSync('/etc/apt/trusted.gpg')) out.add('/etc/apt/trusted.gpg')
  const d = '/etc/apt/trusted.gpg.d'
  if (existsSync(d)) for (const f of readdirSync(d).sort()) if (f.endsWith('.gpg')) out.add(join(d, f))
  return [...out].filter((k) => existsSync(k) && k.endsWith('.gpg'))
}

/** The `SHA256:` section of a Release file's text: path -> hash. */
export function releaseHashes(text: string): Map<string, string> {
  const out = new Map<string, string>()
  let inside = false
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) inside = line.trim() === 'SHA256:'
    else if (inside) {
      const [hash, , path] = line.trim().split(/\s+/)
      if (hash && path) out.set(path, hash)
    }
  }
  return out
}

/** The sha256 of a list's content (decompressed, streamed: Debian's main list is about 90 MB). */
async function contentHash(file: string): Promise<string> {
  const h = createHash('sha256')
  if (!file.endsWith('.lz4')) return h.update(readFileSync(file)).digest('hex')
  const child = execa('lz4', ['-dc', file], { buffer: false, reject: false })
  for await (const chunk of child.stdout!) h.update(chunk as Buffer)
  const r = await child
  return r.exitCode === 0 ? h.digest('hex') : `lz4 failed (${r.exitCode})`
}

/** Every problem with the lists in `lists` (a private apt state's), checked against `keyrings`. */
export async function verifyLists(lists: string, keyrings: string[]): Promise<string[]> {
  const files = listFiles(lists)
  if (!keyrings.length) return ['no keyring to check the lists against (no Signed-By in the sources, nothing in /etc/apt/trusted.gpg.d)']
  const problems: string[] = []
  const covered = new Set<string>()
  for (const rel of files.filter((f) => f.endsWith('_InRelease'))) {
    covered.add(rel)
    const r = await execa('gpgv', [...keyrings.flatMap((k) => ['--keyring', k]), '--output', '-', join(lists, rel)], { reject: false, stripFinalNewline: false })
    if (r.exitCode !== 0) {
      problems.push(`${rel}: no valid signature of a key the sources trust (gpgv: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''})`)
      continue
    }
    const hashes = releaseHashes(r.stdout)
    const prefix = rel.slice(0, -'InRelease'.length)
    for (const f of files.filter((x) => x.startsWith(prefix) && x !== rel)) {
      const name = f.slice(prefix.length).replace(/\.(lz4|gz|xz|zst)$/, '')
      const want = [...hashes].find(([p]) => p.replace(/\//g, '_') === name)?.[1]
      covered.add(f)
      if (!want) problems.push(`${f}: not listed in the signed ${rel}`)
      else if ((await contentHash(join(lists, f))) !== want) problems.push(`${f}: its sha256 is not the one the signed ${rel} gives`)
    }
  }
  for (const f of files) if (!covered.has(f)) problems.push(`${f}: no signed InRelease covers it`)
  return problems
}
