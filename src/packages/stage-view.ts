// A layer's tree being built (the stage), seen as the VM will see it: a
// path is resolved component by component inside the stage, symbolic links
// followed as in a chroot (an absolute target starts again at the stage's
// root), so that nothing the build does on the host follows a link a
// package ships. A path with `..`, a link that climbs above the root, or a
// chain of more than 40 links is refused (UnsafePackageError). What the
// build has decided to make but not made yet (its emulated actions run
// later, in one sandboxed script) is kept here too, so that later actions
// see it.
import { lstatSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

/** A refused path: `problem` says which and why. */
export class UnsafePathError extends Error {}

export type Kind = 'dir' | 'file' | 'link' | 'other'
export interface Entry {
  kind: Kind
  /** A link's target. */
  target?: string
}

/** The components of an absolute path; `..` is refused, `.` and empty ones dropped. */
export function components(path: string, what: string): string[] {
  if (!path.startsWith('/')) throw new UnsafePathError(`${what} ${JSON.stringify(path)} is not an absolute path`)
  const parts = path.split('/').filter((c) => c && c !== '.')
  if (parts.includes('..')) throw new UnsafePathError(`${what} ${JSON.stringify(path)} has a \`..\` component`)
  return parts
}

/**
 * Where a link at `dir` (components) with `target` leads, as components; a
 * relative target that climbs above the root is refused.
 */
export function linkTarget(dir: string[], target: string, where: string): string[] {
  const out = target.startsWith('/') ? [] : [...dir]
  for (const c of target.split('/')) {
    if (!c || c === '.') continue
    if (c === '..') {
      if (!out.length) throw new UnsafePathError(`the link ${where} -> ${target} points outside the layer`)
      out.pop()
    } else out.push(c)
  }
  return out
}

export class StageView {
  private readonly made = new Map<string, Entry | null>()
  constructor(readonly stage: string) {}

  /** What is at `rel` (components joined with /, '' for the root): made by the build, or on disk. */
  lookup(rel: string): Entry | undefined {
    if (this.made.has(rel)) return this.made.get(rel) ?? undefined
    try {
      const st = lstatSync(join(this.stage, rel))
      if (st.isSymbolicLink()) return { kind: 'link', target: readlinkSync(join(this.stage, rel)) }
      return { kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other' }
    } catch {
      return undefined
    }
  }

  /** Record what the build will have made at `rel` (null: removed). */
  record(rel: string, entry: Entry | null): void {
    this.made.set(rel, entry)
  }

  /**
   * The stage-relative path of the absolute `path` with every link on the
   * way followed inside the stage (the last one too with `followLast`).
   */
  resolve(path: string, followLast: boolean, what = 'path'): string {
    let todo = components(path, what)
    let done: string[] = []
    for (let hops = 0; todo.length; ) {
      const c = todo.shift()!
      const here = [...done, c]
      const e = this.lookup(here.join('/'))
      if (e?.kind === 'link' && (todo.length || followLast)) {
        if (++hops > 40) throw new UnsafePathError(`${what} ${path}: more than 40 links`)
        const to = linkTarget(done, e.target!, `/${here.join('/')}`)
        todo = [...to, ...todo]
        done = []
        continue
      }
      if (todo.length && e && e.kind !== 'dir') return [...here, ...todo].join('/') // a file on the way: nothing there
      done = here
    }
    return done.join('/')
  }

  /** The entry at `path` resolved (following the last link), if any. */
  at(path: string): { rel: string; entry: Entry | undefined } {
    const rel = this.resolve(path, true)
    return { rel, entry: this.lookup(rel) }
  }
}
