// The small checks options are validated with. Each check records its
// problem (in the form: Expected `nvm` to be an integer 1-200, got `0`) and
// returns a usable value, so that one pass lists every problem. Pure.
import { LIMITS, roleOf, vmName } from '../plan/spec.ts'

/** `v` as a user would recognise it in a message: `"4"` (a string) is not 4. */
export function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return `\`${String(v)}\``
  if (v === undefined) return '`undefined`'
  if (typeof v === 'string') {
    if (v === '') return '`""` (an empty string)'
    return /^\s*[-+]?\d+(\.\d+)?\s*$/.test(v) ? `\`${JSON.stringify(v)}\` (a string)` : `\`${v}\``
  }
  try {
    return `\`${JSON.stringify(v)}\``
  } catch {
    return `\`${String(v)}\``
  }
}

export const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)

/** Edit distance of two words (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]
}

/** The word of `known` that `word` most likely misspells (case aside, at most 2 edits, or a third of its length), if any. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase()
  let best: { k: string; d: number } | undefined
  for (const k of known) {
    const d = distance(w, k.toLowerCase())
    if (d <= Math.max(2, Math.floor(k.length / 3)) && (!best || d < best.d)) best = { k, d }
  }
  return best?.k
}

/** VM numbers as runs: `vm-001..vm-004, vm-201, vm-202`. */
export function vmRuns(vms: Iterable<number>): string {
  const sorted = [...vms].sort((a, b) => a - b)
  const runs: string[] = []
  for (let i = 0; i < sorted.length; ) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++
    runs.push(j - i >= 2 ? `${vmName(sorted[i])}..${vmName(sorted[j])}` : sorted.slice(i, j + 1).map(vmName).join(', '))
    i = j + 1
  }
  return runs.join(', ')
}

/** What to raise so that the cluster has VM `v`: its role's count, or `extraVms`. */
function howToHave(v: number): string {
  const role = roleOf(v)
  const [count, base] = role === 'node' ? ['nvm', 0] : role === 'router' ? ['nrouters', 200] : ['ntesters', 220]
  return `raise \`${count}\` to ${v - base}, add ${v} to \`extraVms\``
}

/** Collects problems; each check returns the value to go on with. */
export class Checker {
  readonly problems: string[] = []

  add(...p: string[]): void {
    this.problems.push(...p)
  }

  /** An integer in [lo, hi], else `def`. */
  int(key: string, v: unknown, def: number, [lo, hi]: readonly [number, number], why = ''): number {
    if (v === undefined) return def
    if (!isInt(v) || v < lo || v > hi) {
      this.add(`Expected \`${key}\` to be an integer ${lo}-${hi}, got ${show(v)}${why}`)
      return def
    }
    return v
  }

  /** An optional integer 1..max. */
  positive(key: string, v: unknown, max: number): number | undefined {
    if (v === undefined) return undefined
    if (!isInt(v) || v < 1 || v > max) {
      this.add(`Expected \`${key}\` to be an integer 1-${max}, got ${show(v)}`)
      return undefined
    }
    return v
  }

  /** A net list: net numbers, starting with net 0, none twice, at most LIMITS.maxNics. */
  netList(key: string, v: unknown, def?: number[]): number[] | undefined {
    if (v === undefined) return def && [...def]
    if (!Array.isArray(v) || v.length === 0) {
      this.add(`Expected \`${key}\` to be a non-empty list of net numbers, got ${show(v)}`)
      return def
    }
    const bad = v.filter((n) => !isInt(n) || n < LIMITS.net[0] || n > LIMITS.net[1])
    for (const n of bad) this.add(`Expected every net in \`${key}\` to be an integer ${LIMITS.net[0]}-${LIMITS.net[1]}, got ${show(n)}`)
    let problem: string | undefined
    if (bad.length) problem = 'bad'
    else if (v[0] !== 0) problem = `\`${key}\` must start with net 0 (the internal net, eth0, that the harness reaches each VM on), got ${show(v)}`
    else if (new Set(v).size !== v.length) problem = `\`${key}\` lists a net twice: ${show(v)}`
    else if (v.length > LIMITS.maxNics) problem = `\`${key}\` has ${v.length} nets; at most ${LIMITS.maxNics} NICs per VM`
    if (problem && problem !== 'bad') this.add(problem)
    return problem ? def && [...def] : [...v]
  }

  /** An object keyed by VM number; `each` checks one value (undefined drops it). */
  perVm<T>(key: string, v: unknown, each: (k: string, val: unknown) => T | undefined): Record<number, T> {
    const out: Record<number, T> = {}
    if (v === undefined) return out
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.add(`Expected \`${key}\` to be an object keyed by VM number, got ${show(v)}`)
      return out
    }
    for (const [k, val] of Object.entries(v)) {
      const num = Number(k)
      if (!isInt(num) || num < LIMITS.vm[0] || num > LIMITS.vm[1]) {
        this.add(`Expected the keys of \`${key}\` to be VM numbers ${LIMITS.vm[0]}-${LIMITS.vm[1]}, got \`${k}\``)
        continue
      }
      const r = each(`${key}[${k}]`, val)
      if (r !== undefined) out[num] = r
    }
    return out
  }

  /**
   * Every VM number that the per-VM options in `keys` of `opts` name is one
   * of the cluster's `vms` (a key for a VM the counts do not make is most
   * likely a count forgotten).
   */
  vmKeysIn(opts: Record<string, unknown>, keys: readonly string[], vms: Set<number>): void {
    const absent = new Map<number, string[]>()
    for (const key of keys) {
      const v = opts[key]
      if (typeof v !== 'object' || v === null || Array.isArray(v)) continue
      for (const k of Object.keys(v)) {
        const num = Number(k)
        if (isInt(num) && num >= LIMITS.vm[0] && num <= LIMITS.vm[1] && !vms.has(num)) absent.set(num, [...(absent.get(num) ?? []), `\`${key}[${k}]\``])
      }
    }
    for (const [num, named] of absent) {
      const which = named.length === 1 ? `${named[0]} names` : `${named.slice(0, -1).join(', ')} and ${named.at(-1)} name`
      this.add(`${which} ${vmName(num)}, which the cluster does not have (its VMs: ${vmRuns(vms)}): ${howToHave(num)}, or drop ${named.length === 1 ? 'it' : 'them'}`)
    }
  }

  /** A list of non-empty strings (paths), else []. */
  pathList(key: string, v: unknown, what = 'overlay paths'): string[] {
    if (v === undefined) return []
    if (!Array.isArray(v) || v.some((p) => typeof p !== 'string' || p === '')) {
      this.add(`Expected \`${key}\` to be a list of ${what}, got ${show(v)}`)
      return []
    }
    return [...v]
  }

  /** A string, else `def`. */
  string(key: string, v: unknown, def: string): string {
    if (v === undefined) return def
    if (typeof v !== 'string') {
      this.add(`Expected \`${key}\` to be a string, got ${show(v)}`)
      return def
    }
    return v
  }

  /** A function when given. */
  fn<F>(key: string, v: unknown, shape: string): F | undefined {
    if (v === undefined) return undefined
    if (typeof v !== 'function') {
      this.add(`Expected \`${key}\` to be ${shape}, got ${show(v)}`)
      return undefined
    }
    return v as F
  }
}
