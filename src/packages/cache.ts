// The layers of a home's package cache ($XCLUSTER_HOME/packages/layers):
// each one verified before it is used again (./trust.ts), when it was last
// used (the time of layers/<key>.used), and their listing and removal for
// `xc packages list | rm | prune`, as `xc snapshot` does for snapshots.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { withDirLock } from '../host/dir-lock.ts'
import type { LayerManifest } from './build.ts'
import { fingerprint, sealed, sha256File, unsealed } from './trust.ts'

/** The default bound of `xc packages prune`, MiB (XCLUSTER_PACKAGES_MAX_MB). */
export const PACKAGES_MAX_MB = 4096

export function packagesDir(home: string): string {
  return join(home, 'packages')
}

export function readJson<T>(p: string): T | undefined {
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as T
  } catch {
    return undefined
  }
}

/** A layer's files: the image, its sealed manifest, what was seen at its last hash, its last use. */
export function layerFiles(dir: string, key: string): { ext4: string; json: string; seen: string; used: string } {
  const base = join(dir, 'layers', key)
  return { ext4: `${base}.ext4`, json: `${base}.json`, seen: `${base}.seen`, used: `${base}.used` }
}

/** Record that the layer `key` was used now. */
export function markUsed(dir: string, key: string): void {
  const { used } = layerFiles(dir, key)
  if (!existsSync(used)) writeFileSync(used, '')
  const now = new Date()
  utimesSync(used, now, now)
}

/** Remove the layer `key` (all its files, and the sets that name it). */
export function dropLayer(dir: string, key: string): void {
  for (const f of Object.values(layerFiles(dir, key))) rmSync(f, { force: true })
  const sets = join(dir, 'sets')
  if (!existsSync(sets)) return
  for (const f of readdirSync(sets)) if (readJson<{ key?: string }>(join(sets, f))?.key === key) rmSync(join(sets, f), { force: true })
}

/**
 * The manifest of the layer `key` when it is this home's, as it was built:
 * its manifest's MAC holds, and its image has the sha256 recorded (hashed
 * again only when the file is not the one seen at the last hash). A layer
 * that does not verify is removed, with a line to `log`, so that it is built
 * again; undefined then, or when there is none.
 */
export async function verifiedLayer(dir: string, key: string, mac: Buffer, log: (line: string) => void): Promise<LayerManifest | undefined> {
  const f = layerFiles(dir, key)
  if (!existsSync(f.json) && !existsSync(f.ext4)) return undefined
  const manifest = readJson<LayerManifest & { mac?: string }>(f.json)
  const drop = (why: string): undefined => {
    log(`packages: layer ${key} ${why}: building it again from verified .debs`)
    dropLayer(dir, key)
    return undefined
  }
  if (!manifest || !existsSync(f.ext4)) return drop('is incomplete')
  if (!unsealed(mac, manifest) || !manifest.sha256) return drop('was not made by this home (copied in?) or its record was changed')
  const now = fingerprint(f.ext4)
  const seen = readJson<{ fingerprint: string; sha256: string }>(f.seen)
  const { mac: _sealed, ...plain } = manifest
  if (seen && unsealed(mac, seen) && seen.fingerprint === now && seen.sha256 === manifest.sha256) return plain
  if ((await sha256File(f.ext4)) !== manifest.sha256) return drop('has changed since it was built (its sha256 is not the one recorded)')
  markSeen(dir, key, mac, manifest.sha256)
  return plain
}

/** Record the image's fingerprint as the one of its last hash (`sha256`). */
export function markSeen(dir: string, key: string, mac: Buffer, sha256: string): void {
  const f = layerFiles(dir, key)
  writeFileSync(f.seen, JSON.stringify(sealed(mac, { fingerprint: fingerprint(f.ext4), sha256 })) + '\n')
}

export interface LayerInfo {
  key: string
  names: string[]
  packages: number
  bytes: number
  /** ISO time of the last use (or of the build). */
  usedAt: string
  path: string
}

/** The layers of `home`, most recently used first. */
export function listLayers(home: string): LayerInfo[] {
  const dir = packagesDir(home)
  const layers = join(dir, 'layers')
  if (!existsSync(layers)) return []
  const out: LayerInfo[] = []
  for (const f of readdirSync(layers).filter((x) => /^[0-9a-f]{16}\.json$/.test(x))) {
    const key = f.slice(0, 16)
    const files = layerFiles(dir, key)
    const m = readJson<LayerManifest>(files.json)
    if (!m || !existsSync(files.ext4)) continue
    const used = existsSync(files.used) ? statSync(files.used).mtime : statSync(files.ext4).mtime
    out.push({ key, names: m.names, packages: m.packages.length, bytes: statSync(files.ext4).size, usedAt: used.toISOString(), path: files.ext4 })
  }
  return out.sort((a, b) => b.usedAt.localeCompare(a.usedAt))
}

/** Remove the layer whose key starts with `key` (when one does). The keys removed. */
export async function removeLayer(home: string, key: string): Promise<string[]> {
  const dir = packagesDir(home)
  return withDirLock(join(dir, '.lock'), async () => {
    const hits = listLayers(home).filter((l) => l.key.startsWith(key))
    if (hits.length !== 1 || !key) return []
    dropLayer(dir, hits[0].key)
    return [hits[0].key]
  }, 30 * 60_000, 'the package cache lock')
}

/** Remove the least recently used layers until those left take at most `maxMb` MiB. The keys removed. */
export async function pruneLayers(home: string, maxMb = Number(process.env.XCLUSTER_PACKAGES_MAX_MB ?? PACKAGES_MAX_MB)): Promise<string[]> {
  const dir = packagesDir(home)
  if (!existsSync(join(dir, 'layers'))) return []
  return withDirLock(join(dir, '.lock'), async () => {
    const removed: string[] = []
    let total = 0
    for (const l of listLayers(home)) {
      total += l.bytes
      if (total > maxMb * 1048576) {
        dropLayer(dir, l.key)
        removed.push(l.key)
      }
    }
    return removed
  }, 30 * 60_000, 'the package cache lock')
}
