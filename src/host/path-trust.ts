// Whether a program on this machine is one that only its runner (or root)
// could have put there: the harness runs overlay tar scripts and net-setup
// scripts with its own rights, as root where it runs as root. Read from the
// file system; the rule itself is pure (trustProblem).
import { lstatSync, realpathSync, statSync, type Stats } from 'node:fs'
import { dirname, resolve } from 'node:path'

/** `/a/b/c` and its ancestors, from `/` down. */
function chain(path: string): string[] {
  const out: string[] = []
  for (let p = path; ; p = dirname(p)) {
    out.unshift(p)
    if (p === dirname(p)) return out
  }
}

/**
 * Why a file system object with `st` (lstat), at `path`, lets someone other
 * than `uid` and root change what runs: another owner, or a mode that lets
 * others write (a sticky directory above the program is fine: others cannot
 * replace what is not theirs). `last`: the program or its overlay directory
 * itself. Undefined when it does not. Pure.
 */
export function trustProblem(path: string, st: Pick<Stats, 'uid' | 'mode'> & { isDirectory(): boolean; isSymbolicLink(): boolean }, uid: number, last: boolean): string | undefined {
  if (st.uid !== 0 && st.uid !== uid) return `${path} belongs to uid ${st.uid}`
  if (st.isSymbolicLink()) return undefined // its target is checked where it leads
  const othersWrite = (st.mode & 0o022) !== 0
  if (othersWrite && !(st.isDirectory() && !last && (st.mode & 0o1000) !== 0)) return `${path} is writable by others (mode ${(st.mode & 0o7777).toString(8)})`
  return undefined
}

/**
 * Why `program` (and, when given, the overlay directory `dir` it lives in)
 * could have been changed by another user than this process's: every
 * component of its path as given (links included) and of the path it
 * resolves to is checked with trustProblem. Undefined when none could.
 */
export function programTrustProblem(given: string, givenDir?: string, uid = process.getuid?.() ?? 0): string | undefined {
  const program = resolve(given)
  const dir = givenDir === undefined ? undefined : resolve(givenDir)
  let real: string
  try {
    real = realpathSync(program)
  } catch (e) {
    return `${program} cannot be resolved (${(e as NodeJS.ErrnoException).code})`
  }
  const own = new Set([program, real, ...(dir ? [dir, safeReal(dir)] : [])])
  const paths = [...new Set([...chain(program), ...chain(real), ...(dir ? chain(safeReal(dir)) : [])])]
  for (const p of paths) {
    let st: Stats
    try {
      st = lstatSync(p)
    } catch (e) {
      return `${p} cannot be read (${(e as NodeJS.ErrnoException).code})`
    }
    const why = trustProblem(p, st, uid, own.has(p))
    if (why) return why
  }
  return statSync(real).isFile() ? undefined : `${real} is not a file`
}

function safeReal(p: string): string {
  try {
    return realpathSync(p)
  } catch {
    return p
  }
}
