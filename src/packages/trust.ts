// What the package cache trusts, and why. The only trust that crosses
// machines is Debian's: the lists are signed (InRelease, checked by apt
// when it fetches them, or by ./lists-verify.ts when they were copied in),
// and they give the sha256 of every .deb, checked before a cached .deb is
// used again. A layer is this home's own work: its manifest (the .debs it
// was made of, the layer's sha256) carries an HMAC under a key of this home
// kept outside packages/ ($XCLUSTER_HOME/.packages-key, 0600), so a layer
// copied from elsewhere (an rsync'd cache) or changed since does not
// verify and is rebuilt from verified .debs, which needs no network.
//
// Re-hashing a layer on each use was measured: 0.9 s for a 324 MiB layer
// with a warm page cache and 3.7 s cold (sha256sum), on every start of a
// cluster with packages. Instead the layer is hashed once after it is
// built and whenever its (device, inode, size, mtime, ctime) differ from
// the ones recorded, MAC'd, at the last hash: any write to the file moves
// its ctime, which no user can set back, and a copy is a new inode.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The HMAC key of `home`'s package cache, made on first use. */
export function cacheKey(home: string): Buffer {
  const f = join(home, '.packages-key')
  if (!existsSync(f)) {
    try {
      writeFileSync(f, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
  }
  return Buffer.from(readFileSync(f, 'utf8').trim(), 'hex')
}

/** A value's canonical JSON (keys sorted), what a MAC covers. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).filter((k) => k !== 'mac').sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

/** `obj` with its MAC under `key` (in a `mac` field). */
export function sealed<T extends object>(key: Buffer, obj: T): T & { mac: string } {
  return { ...obj, mac: createHmac('sha256', key).update(canonical(obj)).digest('hex') }
}

/** True when `obj`'s `mac` field is its MAC under `key`. */
export function unsealed(key: Buffer, obj: unknown): boolean {
  if (!obj || typeof obj !== 'object' || typeof (obj as { mac?: unknown }).mac !== 'string') return false
  const want = createHmac('sha256', key).update(canonical(obj)).digest()
  const got = Buffer.from((obj as { mac: string }).mac, 'hex')
  return got.length === want.length && timingSafeEqual(got, want)
}

/** The sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** What identifies a file's content without reading it: any write moves ctime; a copy is another inode. */
export function fingerprint(path: string): string {
  const st = statSync(path, { bigint: true })
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`
}
