// What a maintainer script does to files on a first install, read from it
// (./shell-words.ts) rather than run, for ./emulate.ts to apply to a
// layer's tree: ucf's config files (copied from the package's template
// when absent, as `cp -p`), update-alternatives' links, dpkg-statoverride
// (applied to what exists, never a path made by it), chown, chgrp, chmod,
// touch, ln -s, cp, `install SRC DEST` and `cat > FILE <<EOF` of literal
// paths.
// dpkg-maintscript-helper and ucfr change nothing on a first install (they
// move or drop conffiles of an older version and register ownership) and
// are read as such. A path that is not literal (`"$1"`, a glob, a command's
// output) is not acted on. Pure.
import { literalPath, parseArgs } from './maintainer.ts'
import { HEREDOC, scriptCommands, SPLIT, TREE } from './shell-words.ts'

export type FileAction =
  /** Owner and mode of PATH when it exists (dpkg-statoverride --update --add). */
  | { kind: 'statoverride'; path: string; user: string; group: string; mode: string }
  /** A copy of SRC at DEST when DEST does not exist (ucf, cp, install); `preserve` keeps SRC's owner and mode. */
  | { kind: 'copy'; src: string; dest: string; preserve: boolean; mode?: string; user?: string; group?: string }
  /** LINK -> /etc/alternatives/NAME -> PATH, for the highest priority of NAME whose PATH exists; slaves alike. */
  | { kind: 'alternative'; link: string; name: string; path: string; priority: number; slaves: Array<{ link: string; name: string; path: string }> }
  /** Owner (user and/or group names or ids) of PATH, of all under it with `recursive`; `loginGroup`: the user's own group (`chown frr:`). */
  | { kind: 'chown'; path: string; user?: string; group?: string; loginGroup?: boolean; recursive: boolean }
  /** Mode of PATH (octal or symbolic, as chmod takes it). */
  | { kind: 'chmod'; path: string; mode: string; recursive: boolean }
  /** An empty file at PATH when nothing is there. */
  | { kind: 'touch'; path: string }
  /** A file of TEXT at PATH when nothing is there (`cat > PATH <<EOF`). */
  | { kind: 'write'; path: string; text: string }
  /** A symbolic link LINK -> TARGET when nothing is at LINK (`force`: replacing a link). */
  | { kind: 'symlink'; target: string; link: string; force: boolean }

/** A mode chmod takes: octal, or symbolic clauses (`o-rwx`, `u+s,g=rx`). */
export const MODE = /^([0-7]{3,4}|[ugoa]*[-+=][rwxXst]*(,[ugoa]*[-+=][rwxXst]*)*)$/

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/

/** A path word: literal, or a `find DIR | while read V` loop's V (then recursive). */
function pathOf(w: string): { path: string; tree: boolean } | undefined {
  if (w.startsWith(TREE) && literalPath(w.slice(1))) return { path: w.slice(1), tree: true }
  return literalPath(w) ? { path: w, tree: false } : undefined
}

/** `user`, `user:group`, `user:`, `:group`, `user.group` (old syntax) and numeric ids; undefined when not literal. */
export function parseOwner(s: string | undefined): { user?: string; group?: string; loginGroup?: boolean } | undefined {
  if (!s) return undefined
  const m = /^([^:.]*)(?:[:.]([^:.]*))?$/.exec(s)
  if (!m) return undefined
  const [, u, g] = m
  if ((u && !NAME.test(u)) || (g && !NAME.test(g)) || (!u && !g)) return undefined
  return { user: u || undefined, group: g || undefined, loginGroup: !!u && g === '' }
}

/** update-alternatives --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]... */
function alternative(args: string[]): FileAction | undefined {
  const i = args.indexOf('--install')
  if (i < 0) return undefined
  const [link, name, path, prio] = args.slice(i + 1, i + 5)
  if (!literalPath(link) || !NAME.test(name ?? '') || !literalPath(path) || !/^-?\d+$/.test(prio ?? '')) return undefined
  const slaves: Array<{ link: string; name: string; path: string }> = []
  for (let j = i + 5; j < args.length; j++) {
    if (args[j] !== '--slave') continue
    const [sl, sn, sp] = args.slice(j + 1, j + 4)
    if (literalPath(sl) && NAME.test(sn ?? '') && literalPath(sp)) slaves.push({ link: sl, name: sn, path: sp })
  }
  return { kind: 'alternative', link, name, path, priority: Number(prio), slaves }
}

const TOOLS = /^(\/usr\/s?bin\/|\/s?bin\/)?(dpkg-statoverride|ucf|ucfr|update-alternatives|dpkg-maintscript-helper|chown|chgrp|chmod|touch|ln|cp|install|cat)$/

/** `cat > PATH <<EOF` (or `cat <<EOF > PATH`): the file and its text, when both are known. */
function heredocWrite(args: string[]): FileAction | undefined {
  const doc = args.find((w) => w.startsWith(HEREDOC))
  const i = args.findIndex((w) => /^>[^>&]*$/.test(w))
  const path = i < 0 ? undefined : args[i] === '>' ? args[i + 1] : args[i].slice(1)
  if (!doc || doc === HEREDOC + SPLIT || !literalPath(path)) return undefined
  return { kind: 'write', path, text: doc.slice(1) }
}

/** The file actions of `script`, in its order, appended to `into`. */
export function scanFileActions(script: string, into: FileAction[] = []): FileAction[] {
  for (const w of scriptCommands(script)) {
    const i = w.findIndex((x) => TOOLS.test(x))
    if (i < 0) continue
    const tool = w[i].split('/').pop()!
    const args = w.slice(i + 1)
    if (tool === 'cat') {
      const a = heredocWrite(args)
      if (a) into.push(a)
      continue
    }
    if (tool === 'update-alternatives') {
      const a = alternative(args)
      if (a) into.push(a)
      continue
    }
    const { opts, flags, pos } = parseArgs(tool, args)
    const recursive = flags.has('-R') || flags.has('--recursive')
    if (tool === 'dpkg-statoverride') {
      // dpkg-statoverride [--update] --add USER GROUP MODE PATH
      const [user, group, mode, path] = pos
      if (flags.has('--add') && NAME.test(user ?? '') && NAME.test(group ?? '') && /^[0-7]{3,4}$/.test(mode ?? '') && literalPath(path)) {
        into.push({ kind: 'statoverride', path, user, group, mode })
      }
    } else if (tool === 'ucf') {
      // ucf [options] NEW DEST; --purge (-p) forgets DEST, on removal.
      if (!flags.has('--purge') && !flags.has('-p') && pos.length === 2 && literalPath(pos[0]) && literalPath(pos[1])) {
        into.push({ kind: 'copy', src: pos[0], dest: pos[1], preserve: true })
      }
    } else if (tool === 'chown' || tool === 'chgrp') {
      const owner = tool === 'chgrp' ? (NAME.test(pos[0] ?? '') ? { group: pos[0] } : undefined) : parseOwner(pos[0])
      if (!owner || flags.has('--reference')) continue
      for (const p of pos.slice(1).map(pathOf)) {
        if (!p) continue
        into.push({ kind: 'chown', path: p.path, user: owner.user, group: owner.group, ...(owner.loginGroup ? { loginGroup: true } : {}), recursive: recursive || p.tree })
      }
    } else if (tool === 'chmod') {
      if (!MODE.test(pos[0] ?? '')) continue
      for (const p of pos.slice(1).map(pathOf)) if (p) into.push({ kind: 'chmod', path: p.path, mode: pos[0], recursive: recursive || p.tree })
    } else if (tool === 'touch') {
      for (const p of pos.filter((x) => literalPath(x))) into.push({ kind: 'touch', path: p })
    } else if (tool === 'ln') {
      if ((flags.has('-s') || flags.has('--symbolic')) && pos.length === 2 && /^[^\0$`*?[]+$/.test(pos[0]) && literalPath(pos[1])) {
        into.push({ kind: 'symlink', target: pos[0], link: pos[1], force: flags.has('-f') || flags.has('--force') })
      }
    } else if (tool === 'cp') {
      if (pos.length === 2 && literalPath(pos[0]) && literalPath(pos[1]) && !recursive && !flags.has('-r') && !flags.has('-a')) {
        into.push({ kind: 'copy', src: pos[0], dest: pos[1], preserve: flags.has('-p') || flags.has('--preserve') })
      }
    } else if (tool === 'install') {
      if (flags.has('-d') || flags.has('--directory') || pos.length !== 2 || !literalPath(pos[0]) || !literalPath(pos[1])) continue
      const mode = opts.get('-m') ?? opts.get('--mode')
      into.push({ kind: 'copy', src: pos[0], dest: pos[1], preserve: false, mode: mode && MODE.test(mode) ? mode : '0755', user: opts.get('-o') ?? opts.get('--owner'), group: opts.get('-g') ?? opts.get('--group') })
    }
    // ucfr and dpkg-maintscript-helper: nothing on a first install.
  }
  return into
}
