// The harness's directory on an ssh host, made and checked so that no local
// user of that host can own it or anything the harness reuses from it: every
// component root's, none writable by another user (an ancestor may be
// sticky, as /tmp), made 0700 where missing, checked again after it is made.
// Pure: the sh scripts that do it there.
import { shellQuote as q } from '../pure/quote.ts'

/** `/a/b/c` -> `/a`, `/a/b`, `/a/b/c`. */
export function pathPrefixes(dir: string): string[] {
  const parts = dir.split('/').filter(Boolean)
  return parts.map((_, i) => '/' + parts.slice(0, i + 1).join('/'))
}

/**
 * The sh function `xc_dir PATH LAST`: makes PATH (0700) when it is missing
 * and checks it. A component that fails prints `unsafe <path>: <why>` and
 * ends the script with exit 3. An ancestor (LAST 0) may be a symbolic link
 * of root's to a directory of root's, and writable by others when sticky;
 * the harness's own directories (LAST 1) are real directories of root's that
 * no one else may write.
 */
export const XC_DIR_FUNCTION = `xc_dir() {
  p=$1; last=$2
  if [ ! -e "$p" ] && [ ! -L "$p" ]; then mkdir -m 700 -- "$p" 2>/dev/null || [ -d "$p" ] || { echo "unsafe $p: cannot be made"; exit 3; }; fi
  set -- $(stat -c '%u %a %F' -- "$p" 2>/dev/null)
  [ $# -ge 3 ] || { echo "unsafe $p: cannot be read"; exit 3; }
  u=$1; m=$2; shift 2; t="$*"
  [ "$u" = 0 ] || { echo "unsafe $p: belongs to uid $u, not root"; exit 3; }
  if [ "$t" = "symbolic link" ]; then
    [ "$last" = 0 ] || { echo "unsafe $p: a symbolic link"; exit 3; }
    set -- $(stat -L -c '%u %a %F' -- "$p" 2>/dev/null)
    [ $# -ge 3 ] && [ "$1" = 0 ] || { echo "unsafe $p: a link to what is not root's"; exit 3; }
    m=$2; shift 2; t="$*"
  fi
  [ "$t" = directory ] || { echo "unsafe $p: a $t, not a directory"; exit 3; }
  if [ $((0$m & 022)) != 0 ]; then
    [ "$last" = 0 ] && [ $((0$m & 01000)) != 0 ] || { echo "unsafe $p: writable by others (mode $m)"; exit 3; }
  fi
}`

/** sh that makes and checks `dir` and its `subdirs` (relative, made in order) as XC_DIR_FUNCTION does. */
export function safeDirScript(dir: string, subdirs: string[] = []): string {
  const prefixes = pathPrefixes(dir)
  return [
    XC_DIR_FUNCTION,
    ...prefixes.map((p, i) => `xc_dir ${q(p)} ${i === prefixes.length - 1 ? 1 : 0}`),
    ...subdirs.map((s) => `xc_dir ${q(`${dir}/${s}`)} 1`),
  ].join('\n')
}

/**
 * sh whose exit tells whether `path` is a file the harness put in its cache
 * there and nobody changed since: a regular file (not a link) of root's, not
 * writable by others, whose sha256 is `sha256`. Exit 0: reuse it; 1: copy
 * it again.
 */
export function cachedFileScript(path: string, sha256: string): string {
  return [
    `f=${q(path)}`,
    '[ -f "$f" ] && [ ! -L "$f" ] || exit 1',
    'set -- $(stat -c \'%u %a\' -- "$f")',
    '[ "$1" = 0 ] && [ $((0$2 & 022)) = 0 ] || exit 1',
    `[ "$(sha256sum < "$f" | cut -d' ' -f1)" = ${q(sha256)} ]`,
  ].join('\n')
}
