// Small statistics and formatting helpers of the benchmark. Pure.

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * s.length)
  return s[Math.min(s.length, Math.max(1, rank)) - 1]
}

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN
}

export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN
}

/** Round to `digits` decimals for the JSON file. */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Seconds from ms, e.g. "12.34 s". */
export function secs(ms: number | undefined, digits = 2): string {
  return ms === undefined || !Number.isFinite(ms) ? 'n/a' : `${(ms / 1000).toFixed(digits)} s`
}

/** Milliseconds, e.g. "12.3 ms". */
export function msec(ms: number | undefined, digits = 1): string {
  return ms === undefined || !Number.isFinite(ms) ? 'n/a' : `${ms.toFixed(digits)} ms`
}

export function times(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? 'n/a' : `${r.toFixed(2)}x`
}

/** A plain text table: first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  const line = (r: string[]): string => r.map((cell, c) => (cell ?? '').padEnd(widths[c])).join('  ').trimEnd()
  const sep = widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n')
}
