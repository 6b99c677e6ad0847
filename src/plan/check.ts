// The small checks options are validated with. Each check records its
// problem (in the form: Expected `nvm` to be an integer 1-200, got `0`) and
// returns a usable value, so that one pass lists every problem. Pure.
import { LIMITS } from './spec.ts'

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
