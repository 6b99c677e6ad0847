// The commands of a maintainer script as a list of words, read rather than
// run: continuations joined, here-documents skipped, split at `;`, `&&`,
// `||`, `|` and `&` outside quotes, and the variables the script sets to a
// literal value expanded (`logdir="/var/log/nginx"`, then `chown root:adm
// $logdir`), with `for V in A B` loops and `find DIRS | while read V` loops
// (V stands for every path under DIRS, marked with TREE). Control flow is
// not followed: every command of the script counts, as for a first install.
// Pure.

/** Marks an unquoted expansion the reader does not know (`$quiet`): the shell splits it into zero or more words. */
export const SPLIT = '\u0000'
/** Marks a word that stands for a path and everything under it (a `find DIR | while read V` loop's V). */
export const TREE = '\u0001'
/** Marks the word that is a command's here-document: its text (SPLIT alone when it expands what is not known). */
export const HEREDOC = '\u0002'

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** One command's raw words (quotes kept) and the separator after it. */
interface Segment {
  raw: string[]
  sep: string
}

/** Split one logical line into commands and their raw words, outside quotes; a `#` starting a word is a comment. */
function lex(line: string): Segment[] {
  const out: Segment[] = []
  let raw: string[] = []
  let word = ''
  let inWord = false
  const endWord = (): void => {
    if (inWord) raw.push(word)
    word = ''
    inWord = false
  }
  const endCmd = (sep: string): void => {
    endWord()
    if (raw.length) out.push({ raw, sep })
    raw = []
  }
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c === "'" || c === '"') {
      const j = line.indexOf(c, i + 1)
      const end = j < 0 ? line.length : j
      word += line.slice(i, end + 1)
      inWord = true
      i = end
    } else if (c === '\\' && i + 1 < line.length) {
      word += line.slice(i, i + 2)
      inWord = true
      i++
    } else if (c === '`') {
      const j = line.indexOf('`', i + 1)
      const end = j < 0 ? line.length : j
      word += line.slice(i, end + 1)
      inWord = true
      i = end
    } else if (c === '$' && line[i + 1] === '(') {
      let depth = 0
      let j = i + 1
      for (; j < line.length; j++) {
        if (line[j] === '(') depth++
        else if (line[j] === ')' && --depth === 0) break
      }
      word += line.slice(i, j + 1)
      inWord = true
      i = j
    } else if (c === '#' && !inWord) {
      break
    } else if (c === ';' || c === '&' || c === '|') {
      const two = line.slice(i, i + 2)
      if (c === '&' && (line[i - 1] === '>' || line[i + 1] === '>' || /[0-9]/.test(line[i - 1] ?? '') && inWord)) {
        word += c
        inWord = true
        continue
      }
      if (two === '&&' || two === '||' || two === ';;') {
        endCmd(two)
        i++
      } else endCmd(c)
    } else if (/\s/.test(c)) {
      endWord()
    } else {
      word += c
      inWord = true
    }
  }
  endCmd('\n')
  return out
}

/** The logical lines of a script: continuations joined (also after a trailing `|`, `&&` or `||`), each with the here-document it opens. */
function logicalLines(script: string): Array<{ line: string; heredoc?: { body: string; quoted: boolean } }> {
  const text = script.replace(/\\\n/g, ' ').replace(/(\||&&|\|\|)[ \t]*\n/g, '$1 ')
  const out: Array<{ line: string; heredoc?: { body: string; quoted: boolean } }> = []
  let open: { marker: string; body: string[]; quoted: boolean; at: number } | undefined
  for (const line of text.split('\n')) {
    if (open) {
      if (line.replace(/^\t+/, '') === open.marker) {
        out[open.at].heredoc = { body: open.body.map((l) => l + '\n').join(''), quoted: open.quoted }
        open = undefined
      } else open.body.push(line)
      continue
    }
    out.push({ line })
    const m = /<<-?\s*(['"]?)([A-Za-z0-9_]+)\1/.exec(line.replace(/'[^']*'|"[^"]*"/g, (q) => (q.includes('<<') ? '' : q)))
    if (m) open = { marker: m[2], body: [], quoted: !!m[1], at: out.length - 1 }
  }
  return out
}

/** Variables known at a point of the script: a value, or undefined when set to something not known. */
type Vars = Map<string, string | undefined>

/**
 * Expand one raw word: quotes removed, `$NAME`, `${NAME}` and `` `dirname
 * PATH` `` replaced where `vars` knows them. A word with anything unknown
 * stays as written, so that no literal check accepts it; a bare unknown
 * `$x` is marked with SPLIT.
 */
export function expandWord(raw: string, vars: Vars): string {
  if (/^\$(\{[^{}"']*\}|\w+|[@*#?$!-])$/.test(raw)) {
    const v = vars.get(raw.replace(/^\$\{?|\}$/g, ''))
    return v ?? SPLIT + raw
  }
  let out = ''
  let known = true
  const sub = (s: string): string =>
    s.replace(/\$(\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|[0-9@*#?$!-]|\{[^}]*\}|\()/g, (m, _a, braced, bare) => {
      const v = vars.get(braced ?? bare ?? '')
      if (v === undefined) known = false
      return v ?? m
    })
  for (const [part] of raw.matchAll(/'[^']*'?|"(?:[^"\\]|\\.)*"?|\\.|`[^`]*`?|\$\([^)]*\)|(?:[^'"\\`$]|\$(?!\())+|\$/g)) {
    if (part.startsWith("'")) out += part.replace(/^'|'$/g, '')
    else if (part.startsWith('"')) out += sub(part.replace(/^"|"$/g, '').replace(/\\(["\\$`])/g, '$1'))
    else if (part.startsWith('\\')) out += part.slice(1)
    else if (part.startsWith('`') || part.startsWith('$(')) {
      // `dirname PATH` of a known path; any other command's output is not known.
      const m = /^(?:`|\$\()\s*(dirname|basename)\s+("?)(\S+?)\2\s*(?:`|\))$/.exec(part)
      const arg = m ? expandWord(m[3], vars) : undefined
      if (m && arg && /^\/[^\0$`]*[^/]$/.test(arg)) out += m[1] === 'dirname' ? arg.replace(/\/[^/]*$/, '') || '/' : arg.replace(/^.*\//, '')
      else known = false
    } else out += sub(part)
  }
  return known ? out : raw.replace(/^"|"$/g, '')
}

/** Leading words that are shell syntax, not the command (`then adduser ...`, `do chown ...`). */
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'while', 'until', '!', '{', '}', '(', ')', 'case', 'esac', 'exec'])

/** The words of a segment after the shell's syntax words and case patterns. */
function strip(raw: string[]): string[] {
  let i = 0
  while (i < raw.length && (KEYWORDS.has(raw[i]) || /^[^=\s]*\)$/.test(raw[i]))) i++
  return raw.slice(i)
}

/** The first word of a segment that opens or closes a loop, past if/then/else/do. */
function loopWord(raw: string[]): string | undefined {
  const w = raw.find((x) => !['if', 'then', 'else', 'elif', 'do', '!', '{', '('].includes(x))
  return w === 'for' || w === 'while' || w === 'until' || w === 'done' ? w : undefined
}

/** The index of the `done` that closes the loop whose body starts at `from`. */
function matchingDone(segs: Segment[], from: number, to: number): number {
  let depth = 0
  for (let s = from; s < to; s++) {
    const w = loopWord(segs[s].raw)
    if (w === 'done' && depth-- === 0) return s
    if (w === 'for' || w === 'while' || w === 'until') depth++
  }
  return to
}

/**
 * The commands of `script` in order, each as its expanded words. The body
 * of a `for` loop comes once per value, that of a `find ... | while read`
 * loop once per directory given to find.
 */
export function scriptCommands(script: string): string[][] {
  const segs = logicalLines(script).flatMap(({ line, heredoc }) => {
    const ls = lex(line)
    const last = [...ls].reverse().find((seg) => seg.raw.some((w) => w.startsWith('<<')))
    // A here-document's text is known when its marker is quoted or it expands nothing.
    if (last && heredoc) last.raw = [...last.raw, HEREDOC + (heredoc.quoted || !/[$`\\]/.test(heredoc.body) ? heredoc.body : SPLIT)]
    return ls
  })
  const out: string[][] = []
  run(segs, 0, segs.length, new Map(), out)
  return out
}

function run(segs: Segment[], from: number, to: number, vars: Vars, out: string[][]): void {
  for (let s = from; s < to; s++) {
    const raw = strip(segs[s].raw)
    if (!raw.length || raw[0] === 'done') continue
    const loop = (name: string, values: Array<string | undefined>, body: number): void => {
      const end = matchingDone(segs, body, to)
      for (const v of values) run(segs, body, end, new Map(vars).set(name, v), out)
      s = end
    }
    if (raw[0] === 'for' && NAME.test(raw[1] ?? '') && raw[2] === 'in') {
      const vals = raw.slice(3).map((w) => expandWord(w, vars))
      loop(raw[1], vals.every((v) => !/[\0$`*?[]/.test(v)) ? vals : [undefined], s + 1)
      continue
    }
    // find DIR... | while read [-r] V: V is each path under the DIRs (at a first install, every one of them matches).
    if (raw[0] === 'find' && segs[s].sep === '|' && segs[s + 1]) {
      const next = segs[s + 1].raw
      const r = next[0] === 'while' && next[1] === 'read' ? next.slice(2).filter((w) => w !== '-r') : []
      if (r.length === 1 && NAME.test(r[0])) {
        const dirs: string[] = []
        for (const w of raw.slice(1)) {
          if (/^[-\\(!]/.test(w)) break
          dirs.push(expandWord(w, vars))
        }
        loop(r[0], dirs.length && dirs.every((d) => /^\/[^\0$`*?[]*$/.test(d)) ? dirs.map((d) => TREE + d) : [undefined], s + 2)
        continue
      }
    }
    // NAME=VALUE ... alone: assignments (with a command after them they are its environment).
    if (raw.every((w) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w))) {
      for (const w of raw) {
        const v = expandWord(w.slice(w.indexOf('=') + 1), vars)
        vars.set(w.slice(0, w.indexOf('=')), /[\0$`]/.test(v) ? undefined : v)
      }
      continue
    }
    if (raw[0] === 'local' || raw[0] === 'readonly' || raw[0] === 'export') {
      for (const w of raw.slice(1)) vars.set(w.split('=')[0], undefined)
      continue
    }
    out.push(raw.map((w) => (w.startsWith(HEREDOC) ? w : expandWord(w, vars))))
  }
}

/** Shell-like words of one line without expansion (quotes removed): sysusers.d and tmpfiles.d lines. */
export function plainWords(line: string): string[] {
  const out: string[] = []
  for (const [w] of line.matchAll(/(?:"[^"]*"|'[^']*'|[^\s"']+)+/g)) out.push(w.replace(/"([^"]*)"|'([^']*)'/g, '$1$2'))
  return out
}
