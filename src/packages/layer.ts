// A package layer: the dependency closure of a set of Debian packages,
// unpacked (dpkg-deb -x: no maintainer script runs on the host) into one
// read-only ext4 image that a VM mounts and lays over its root with
// overlayfs, so every program is at its Debian path with its libraries and
// its own files under /etc. What the maintainer scripts would have made
// is read from them (./maintainer.ts): system users and groups go into the
// layer's own /etc/passwd and /etc/group, their directories are made in the
// layer, or at boot for those under /run. Building is ./build.ts.
//
// Cache, under $XCLUSTER_HOME/packages:
//   apt-<sources>/       the private apt state (lists, stamped) and the downloaded .deb files
//   layers/<key>.ext4    a layer, named by the hash of its resolved package versions
//   layers/<key>.json    what is in it, with the sha256 of its .debs and image, sealed (./trust.ts)
//   layers/<key>.seen    the image's fingerprint at its last hash; .used: its last use
//   sets/<hash>.json     a requested set of names -> its layer, for these lists
// A layer is built in a temporary file and renamed when complete; every
// cluster and VM that asks for the same resolved set shares it. Nothing in
// the cache is used unverified (./trust.ts says how).
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ClusterConfigError, DiskWriteError } from '../errors.ts'
import { codeHash } from '../host/code-hash.ts'
import { withDirLock } from '../host/dir-lock.ts'
import { noSpaceLeft, writeFileDurable } from '../host/durable.ts'
import { BASE_GROUP as GROUP, BASE_PASSWD as PASSWD } from '../plan/model.ts'
import { aptRoot, debFile, haveLists, listsStamp, resolvePackages, type AptRoot } from './apt.ts'
import type { ResolvedPackage } from './apt.ts'
import { buildLayer, type LayerManifest } from './build.ts'
import { layerFiles, markSeen, markUsed, packagesDir, readJson, verifiedLayer } from './cache.ts'
import { downloadPackages, updateLists } from './fetch.ts'
import { listsStamped, stampLists, trustedKeyrings, verifyLists } from './lists-verify.ts'
import { cacheKey, sealed, sha256File } from './trust.ts'

export type { LayerManifest }

export interface PackageLayer {
  path: string
  manifest: LayerManifest
  /** True when the layer was there already (no resolution, download or build). */
  cached: boolean
}

const PACKAGES_SRC = fileURLToPath(new URL('.', import.meta.url))

/** A hash of the code that builds layers: a change to it makes new layers (the base image is not concerned). */
export function layerCodeHash(): string {
  return codeHash(PACKAGES_SRC)
}

/** The layer's key: the resolved versions and the code that builds layers. */
export function layerKey(packages: ResolvedPackage[]): string {
  const lines = packages.map((p) => `${p.name}=${p.version}:${p.arch}`).sort()
  // The base image's accounts are in the layer's /etc/passwd and /etc/group.
  return createHash('sha256').update(`${layerCodeHash()}\n${PASSWD}${GROUP}\n${lines.join('\n')}`).digest('hex').slice(0, 16)
}

export interface LayerOptions {
  /** Progress lines (resolving, downloading, building); a cached layer prints none. */
  log?: (line: string) => void
  /** Fetch the package lists again first (`xc packages --update`). */
  update?: boolean
}

/** The resolved set of `names` for these lists, if resolved before, with its layer. */
function memoPath(root: AptRoot, names: string[], dir: string): string {
  const h = createHash('sha256').update(`${basename(root.dir)}\n${listsStamp(root)}\n${layerCodeHash()}\n${names.join(' ')}`).digest('hex').slice(0, 16)
  return join(dir, 'sets', `${h}.json`)
}

/**
 * Make sure the lists of `root` are this home's (stamped when fetched) or
 * verified: lists copied in are fetched again, or, without network, checked
 * against their signed InRelease files; otherwise a ClusterConfigError.
 */
async function trustLists(root: AptRoot, key: Buffer, log: (line: string) => void): Promise<void> {
  const lists = join(root.dir, 'lists')
  if (listsStamped(key, lists, root.stamp)) return
  log(`packages: the package lists in ${root.dir} were not fetched by this home (copied in?): fetching them again ...`)
  const fetched = await updateLists(root, key)
  if (!fetched.problems.length) return
  log('packages: fetching failed; checking the lists against their signatures instead ...')
  const problems = await verifyLists(lists, trustedKeyrings(root.sources))
  if (problems.length) throw new ClusterConfigError([`the package lists in ${root.dir} were not fetched here and cannot be verified (${fetched.problems.join('; ')}): ${problems.join('; ')}`])
  stampLists(key, lists, root.stamp)
}

/**
 * The layer of the Debian packages `names` (and their dependencies), built
 * when no layer of the same resolved versions exists (or the one there does
 * not verify). Every problem (unknown names, conflicts, failed downloads,
 * unsafe packages) is one ClusterConfigError.
 */
export async function packageLayer(home: string, names: string[], opts: LayerOptions = {}): Promise<PackageLayer> {
  const log = opts.log ?? (() => {})
  const sorted = [...new Set(names)].sort()
  const dir = packagesDir(home)
  mkdirSync(join(dir, 'layers'), { recursive: true })
  mkdirSync(join(dir, 'sets'), { recursive: true })
  const root = aptRoot(home)
  const mac = cacheKey(home)
  return withDirLock(join(dir, '.lock'), async () => {
    if (opts.update || !haveLists(root)) {
      log(`packages: fetching the package lists (apt-get update into ${root.dir}) ...`)
      const { problems, warnings } = await updateLists(root, mac)
      for (const w of warnings) log(`packages: apt: ${w}`)
      if (problems.length) throw new ClusterConfigError(problems.map((p) => `packages ${sorted.join(', ')}: ${p}`))
    }
    const memo = memoPath(root, sorted, dir)
    const known = readJson<{ key: string }>(memo)
    if (known && /^[0-9a-f]{16}$/.test(known.key)) {
      const manifest = await verifiedLayer(dir, known.key, mac, log)
      // A set's record names a layer; the layer's own sealed manifest must have every name asked for.
      if (manifest && sorted.every((n) => manifest.packages.some((p) => p.name === n))) {
        markUsed(dir, known.key)
        return { path: layerFiles(dir, known.key).ext4, manifest, cached: true }
      }
    }
    const t0 = Date.now()
    await trustLists(root, mac, log)
    log(`packages: resolving ${sorted.join(', ')} ...`)
    let { packages, problems } = await resolvePackages(root, sorted)
    if (problems.length) throw new ClusterConfigError(problems)
    let manifest = await verifiedLayer(dir, layerKey(packages), mac, log)
    if (!manifest) {
      // Only the holder of the lock builds: what a killed build left is removed here.
      for (const f of readdirSync(join(dir, 'layers'))) if (f.includes('.tmp-')) rmSync(join(dir, 'layers', f), { recursive: true, force: true })
      for (const f of readdirSync(root.debs)) if (f.startsWith('.')) rmSync(join(root.debs, f), { recursive: true, force: true })
      log(`packages: downloading what is not cached of ${packages.length} packages ...`)
      let got = await downloadPackages(root, packages)
      if (got.problems.length) {
        // The lists may be older than the archive (a version superseded): fetch them again, once.
        log('packages: a download failed; fetching the package lists again ...')
        if (!(await updateLists(root, mac)).problems.length) {
          ;({ packages, problems } = await resolvePackages(root, sorted))
          if (problems.length) throw new ClusterConfigError(problems)
          got = await downloadPackages(root, packages)
        }
        if (got.problems.length) throw new ClusterConfigError(got.problems)
      }
      for (const f of got.replaced) log(`packages: the cached ${f} had not the sha256 the lists give: fetched again`)
      for (const w of got.warnings) log(`packages: apt: ${w}`)
      log(`packages: building the layer of ${packages.length} packages ...`)
      const k = layerKey(packages)
      const files = layerFiles(dir, k)
      const tmp = `${files.ext4}.tmp-${process.pid}`
      try {
        const built = await buildLayer(got.files, sorted, packages, k, tmp)
        const debs = Object.fromEntries(await Promise.all(packages.map(async (p) => [p.name, await sha256File(join(root.debs, debFile(p)))] as const)))
        manifest = { ...built, debs, sha256: await sha256File(tmp) }
        renameSync(tmp, files.ext4)
      } catch (e) {
        // Out of space (tar or mke2fs said so, or the disk is full now): a DiskWriteError, the tool's own error as its cause.
        const full = noSpaceLeft(join(dir, 'layers')) || /No space left on device|ENOSPC/.test((e as Error).message)
        throw full && !(e instanceof DiskWriteError) ? new DiskWriteError(tmp, e, 'ENOSPC') : e
      } finally {
        rmSync(tmp, { force: true })
      }
      writeFileDurable(files.json, JSON.stringify(sealed(mac, manifest), null, 2) + '\n', 0o644)
      markSeen(dir, k, mac, manifest.sha256!)
      log(`packages: layer ${k} ready (${packages.length} packages, ${(manifest.bytes / 1048576).toFixed(0)} MiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    }
    writeFileDurable(memo, JSON.stringify({ names: sorted, key: manifest.key }) + '\n', 0o644)
    markUsed(dir, manifest.key)
    return { path: layerFiles(dir, manifest.key).ext4, manifest, cached: false }
  }, 30 * 60_000, 'the package cache lock')
}
