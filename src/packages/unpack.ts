// Unpacking a layer's packages without trusting them. Each .deb is unpacked
// by dpkg-deb and GNU tar, sandboxed (./sandbox.ts), into a directory of
// its own, empty, so that no link of another package is on the way (GNU
// tar makes a link whose target is absolute or has `..` only once its
// archive is done, and refuses members with `..`). A package whose archive
// fails so, or that ships a link climbing above the root, is refused
// (UnsafePackageError), before anything of it reaches the layer. The trees
// are then moved into the stage here, in apt's order, each path resolved
// inside the stage (./stage-view.ts): a directory a package ships as a
// link is followed as dpkg follows it, as in a chroot, never on the host.
import { existsSync, lchownSync, linkSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { UnsafePackageError } from '../errors.ts'
import type { ResolvedPackage } from './apt.ts'
import { buildOwner, sandboxed } from './sandbox.ts'
import { linkTarget, StageView, UnsafePathError } from './stage-view.ts'

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** A directory of the build made here, given to the build's owner (root in the sandbox). */
export function ownDir(path: string): void {
  mkdirSync(path, { recursive: true })
  const o = buildOwner()
  if (o !== undefined) lchownSync(path, o, o)
}

/** Every link under `dir` (a package's tree) that climbs above the root, as problems. */
function escapingLinks(dir: string, name: string): string[] {
  const problems: string[] = []
  const walk = (rel: string[]): void => {
    for (const e of readdirSync(join(dir, ...rel))) {
      const p = join(dir, ...rel, e)
      const st = lstatSync(p)
      if (st.isSymbolicLink()) {
        try {
          linkTarget(rel, readlinkSync(p), `/${[...rel, e].join('/')}`)
        } catch (err) {
          problems.push(`package ${name}: ${(err as Error).message}`)
        }
      } else if (st.isDirectory()) walk([...rel, e])
    }
  }
  walk([])
  return problems
}

/**
 * Move the tree `from` into the stage at `rel` (resolved), as dpkg lays a
 * package over the others: a later file replaces an earlier one, a
 * directory merges into a directory (or into the directory a link leads
 * to), a directory in the way of a file stays.
 */
export function mergeInto(view: StageView, from: string, rel: string, keep?: (incoming: string, existing: 'dir' | 'file' | 'link' | 'other') => boolean): void {
  for (const name of readdirSync(from)) {
    const src = join(from, name)
    const st = lstatSync(src)
    const at = view.resolve(`/${rel ? `${rel}/` : ''}${name}`, st.isDirectory())
    const parent = at.split('/').slice(0, -1).join('/')
    if (view.lookup(parent)?.kind !== 'dir') continue
    const e = view.lookup(at)
    if (st.isDirectory() && e?.kind === 'dir') {
      mergeInto(view, src, at, keep)
      continue
    }
    if (e?.kind === 'dir' || (e && keep?.(src, e.kind))) continue
    if (e) rmSync(join(view.stage, at), { force: true })
    renameSync(src, join(view.stage, at))
  }
}

export interface Unpacked {
  /** The control files of each package: ctrl/<name>/. */
  ctrl: string
}

/**
 * Unpack `files` (the .debs of `packages`) into `work`/root, refusing
 * unsafe packages; every problem of every package is one UnsafePackageError.
 */
export async function unpackPackages(work: string, files: string[], packages: ResolvedPackage[]): Promise<Unpacked> {
  for (const d of ['root', 'ctrl', 'pkgs', 'debs']) ownDir(join(work, d))
  const lines: string[] = []
  packages.forEach((p, i) => {
    // The sandbox reaches the .debs through the build's directory (a hard link, else a copy): not through the home.
    const deb = join(work, 'debs', `${i}.deb`)
    try {
      linkSync(files[i], deb)
    } catch {
      copyFileSync(files[i], deb)
    }
    lines.push(
      `mkdir pkgs/${i} ctrl/${q(p.name)}`,
      `dpkg-deb -e debs/${i}.deb ctrl/${q(p.name)} 2> pkgs/${i}.err || echo ${i} >> failed`,
      `dpkg-deb --fsys-tarfile debs/${i}.deb | tar -x -C pkgs/${i} --warning=no-timestamp 2>> pkgs/${i}.err || echo ${i} >> failed`,
    )
  })
  await sandboxed(work, lines.join('\n'))
  rmSync(join(work, 'debs'), { recursive: true, force: true })
  const problems: string[] = []
  const failed = new Set(existsSync(join(work, 'failed')) ? readFileSync(join(work, 'failed'), 'utf8').split('\n').filter(Boolean).map(Number) : [])
  packages.forEach((p, i) => {
    if (failed.has(i)) {
      const err = readFileSync(join(work, 'pkgs', `${i}.err`), 'utf8').trim().split('\n').slice(0, 4).join(' | ')
      problems.push(`package ${p.name} ${p.version}: its archive was refused or could not be unpacked: ${err || 'no message'}`)
    } else problems.push(...escapingLinks(join(work, 'pkgs', String(i)), p.name))
  })
  if (problems.length) throw new UnsafePackageError(problems)
  const view = new StageView(join(work, 'root'))
  packages.forEach((p, i) => {
    try {
      mergeInto(view, join(work, 'pkgs', String(i)), '')
    } catch (e) {
      if (!(e instanceof UnsafePathError)) throw e
      problems.push(`package ${p.name}: ${e.message}`)
    }
  })
  if (problems.length) throw new UnsafePackageError(problems)
  rmSync(join(work, 'pkgs'), { recursive: true, force: true })
  return { ctrl: join(work, 'ctrl') }
}
