// What the maintainer scripts would have done to a layer's files, made into
// the shell lines of the sandboxed build (./sandbox.ts) that does it, on
// paths resolved inside the stage (./stage-view.ts): the directories the
// scripts and units name, and their file actions (./file-actions.ts). Every
// line names a path relative to the build's directory (`root/...`), whose
// links were resolved here: a line never goes through a link.
// dpkg-statoverride applies to what exists, never makes a path; a directory
// is made only where nothing is; a file is copied only where nothing is;
// update-alternatives links the highest priority whose target exists.
import { basename } from 'node:path'
import type { FileAction } from './file-actions.ts'
import type { Accounts } from './maintainer.ts'
import { StageView, UnsafePathError } from './stage-view.ts'

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** The directories every Debian system has (base-files): a script may put a file in one that no package of the layer ships. */
const SKELETON = new Set(['etc', 'etc/default', 'var', 'var/lib', 'var/log', 'var/cache', 'var/spool', 'var/backups', 'var/tmp', 'usr', 'usr/bin', 'usr/sbin', 'usr/lib', 'usr/share', 'usr/local', 'opt', 'srv', 'root'])

export interface Ids {
  uid: Map<string, number>
  gid: Map<string, number>
  /** Each user's primary group id. */
  primary: Map<string, number>
}

/** `uid:gid`, `uid`, `:gid` for chown from names or numbers; undefined when no name is known. */
export function ownerArg(ids: Ids, user?: string, group?: string, loginGroup = false): string | undefined {
  const num = (s: string, m: Map<string, number>): number | undefined => (/^\d+$/.test(s) ? Number(s) : m.get(s))
  const uid = user === undefined ? undefined : num(user, ids.uid)
  const gid = group !== undefined ? num(group, ids.gid) : loginGroup && user !== undefined ? ids.primary.get(user) : undefined
  if ((user !== undefined && uid === undefined) || (group !== undefined && gid === undefined)) return undefined
  if (uid === undefined && gid === undefined) return undefined
  return `${uid ?? ''}${gid === undefined ? '' : `:${gid}`}`
}

/** Directories under /run are the VM's (a tmpfs made at boot), not the layer's. */
export const atBoot = (path: string): boolean => /^\/(var\/)?run(\/|$)/.test(path)

/** The lines that make the scripts' directories (those not under /run) and do their file actions, in order. */
export function emulate(view: StageView, acc: Accounts, actions: FileAction[], ids: Ids, problems: string[]): string[] {
  const lines: string[] = []
  const p = (rel: string): string => q(`root/${rel}`)
  const guard = (what: string, fn: () => void): void => {
    try {
      fn()
    } catch (e) {
      if (!(e instanceof UnsafePathError)) throw e
      problems.push(`${what}: ${e.message}`)
    }
  }
  /** Make the missing directories of `rel` (root-owned, 0755, as mkdir -p). */
  const mkdirs = (rel: string): boolean => {
    const parts = rel.split('/')
    for (let i = 1; i <= parts.length; i++) {
      const sub = parts.slice(0, i).join('/')
      const e = view.lookup(sub)
      if (!e) {
        lines.push(`mkdir ${p(sub)}`)
        view.record(sub, { kind: 'dir' })
      } else if (e.kind !== 'dir') return false
    }
    return true
  }
  const ownMode = (rel: string, owner: string | undefined, mode: string | undefined, recursive = false): void => {
    const r = recursive ? '-R ' : ''
    if (owner) lines.push(`chown ${r}${owner} ${p(rel)}`)
    if (mode) lines.push(`chmod ${r}${mode} ${p(rel)}`)
  }
  for (const d of acc.dirs) {
    if (atBoot(d.path)) continue
    guard(`directory ${d.path}`, () => {
      const rel = view.resolve(d.path, true, 'a directory of a maintainer script')
      const had = view.lookup(rel)
      // Never a directory where a file or link is (dpkg-statoverride of /etc/bird/bird.conf made one: seen).
      if (had && had.kind !== 'dir') return
      if (!mkdirs(rel)) return
      ownMode(rel, ownerArg(ids, d.user, d.group), d.mode && /^[0-7]{3,4}$/.test(d.mode) && (!had || d.install) ? d.mode : undefined)
    })
  }
  // update-alternatives: per name, the highest priority whose target exists (in the packages' files).
  const best = new Map<string, Extract<FileAction, { kind: 'alternative' }>>()
  for (const a of actions) {
    if (a.kind !== 'alternative') continue
    guard(`alternative ${a.name}`, () => {
      const cur = best.get(a.name)
      if (view.at(a.path).entry && (!cur || a.priority > cur.priority)) best.set(a.name, a)
    })
  }
  const link = (at: string, target: string, replace: boolean): void => {
    const rel = view.resolve(at, false, 'a link')
    const e = view.lookup(rel)
    if (e && !(replace && e.kind === 'link')) return
    if (!mkdirs(rel.split('/').slice(0, -1).join('/'))) return
    lines.push(`${e ? `rm -f ${p(rel)} && ` : ''}ln -s ${q(target)} ${p(rel)}`)
    view.record(rel, { kind: 'link', target })
  }
  for (const a of actions) {
    const what = `${a.kind} ${'path' in a ? a.path : 'dest' in a ? a.dest : a.link}`
    guard(what, () => {
      if (a.kind === 'statoverride') {
        const { rel, entry } = view.at(a.path)
        if (entry) ownMode(rel, ownerArg(ids, a.user, a.group), a.mode)
      } else if (a.kind === 'chown' || a.kind === 'chmod') {
        const { rel, entry } = view.at(a.path)
        if (!entry) return
        if (a.kind === 'chmod') ownMode(rel, undefined, a.mode, a.recursive)
        else ownMode(rel, ownerArg(ids, a.user, a.group, a.loginGroup), undefined, a.recursive)
      } else if (a.kind === 'copy' || a.kind === 'touch' || a.kind === 'write') {
        const { rel, entry } = view.at(a.kind === 'copy' ? a.dest : a.path)
        if (entry) return
        const dir = rel.split('/').slice(0, -1).join('/')
        if (!view.lookup(dir) && SKELETON.has(dir)) mkdirs(dir)
        if (view.lookup(dir)?.kind !== 'dir') return
        if (a.kind === 'write') lines.push(`printf '%s' ${q(a.text)} > ${p(rel)}`)
        else if (a.kind === 'touch' || a.src === '/dev/null') lines.push(`: > ${p(rel)}`)
        else {
          const src = view.at(a.src)
          if (src.entry?.kind !== 'file') return
          lines.push(`cp ${a.preserve ? '-p ' : ''}${p(src.rel)} ${p(rel)}`)
        }
        view.record(rel, { kind: 'file' })
        if (a.kind === 'copy') ownMode(rel, ownerArg(ids, a.user, a.group), a.mode)
      } else if (a.kind === 'symlink') {
        // ln -s T DIR makes DIR/basename(T).
        const { rel, entry } = view.at(a.link)
        const at = entry?.kind === 'dir' ? `/${rel}/${basename(a.target)}` : a.link
        link(at, a.target, a.force)
      } else if (a.kind === 'alternative' && best.get(a.name) === a) {
        best.delete(a.name)
        link(`/etc/alternatives/${a.name}`, a.path, true)
        link(a.link, `/etc/alternatives/${a.name}`, true)
        for (const s of a.slaves) {
          if (!view.at(s.path).entry) continue
          link(`/etc/alternatives/${s.name}`, s.path, true)
          link(s.link, `/etc/alternatives/${s.name}`, true)
        }
      }
    })
  }
  return lines
}
