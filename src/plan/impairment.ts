// Impairments of a link (delay, jitter, loss, rate, duplication,
// reordering): their check and their netem arguments. Pure.
export interface Impairment {
  delayMs?: number
  jitterMs?: number
  lossPercent?: number
  /** Rate limit, kbit/s. */
  rateKbit?: number
  duplicatePercent?: number
  /** Percent of packets sent at once while the rest are delayed (needs delayMs). */
  reorderPercent?: number
}

const pct = (n: number): string => `${Number(n.toFixed(4))}%`

/** Problems of an impairment, each naming the field. */
export function impairmentProblems(i: Impairment, where = 'impairment'): string[] {
  const p: string[] = []
  const known = new Set(['delayMs', 'jitterMs', 'lossPercent', 'rateKbit', 'duplicatePercent', 'reorderPercent'])
  for (const k of Object.keys(i)) if (!known.has(k)) p.push(`Unknown field \`${k}\` in ${where}; known: ${[...known].join(', ')}`)
  const num = (k: keyof Impairment, lo: number, hi: number): void => {
    const v = i[k]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi)) {
      p.push(`Expected \`${k}\` in ${where} to be a number ${lo}-${hi}, got \`${String(v)}\``)
    }
  }
  num('delayMs', 0, 60_000)
  num('jitterMs', 0, 60_000)
  num('lossPercent', 0, 100)
  num('rateKbit', 1, 100_000_000)
  num('duplicatePercent', 0, 100)
  num('reorderPercent', 0, 100)
  if (i.jitterMs && !i.delayMs) p.push(`\`jitterMs\` in ${where} needs \`delayMs\``)
  if (i.reorderPercent && !i.delayMs) p.push(`\`reorderPercent\` in ${where} needs \`delayMs\` (netem reorders by sending some packets without the delay)`)
  return p
}

/** The netem arguments of an impairment (after `tc qdisc replace dev X root netem`). Pure. */
export function netemArgs(i: Impairment): string[] {
  const a: string[] = []
  if (i.delayMs !== undefined) a.push('delay', `${i.delayMs}ms`, ...(i.jitterMs ? [`${i.jitterMs}ms`] : []))
  if (i.lossPercent !== undefined) a.push('loss', pct(i.lossPercent))
  if (i.duplicatePercent !== undefined) a.push('duplicate', pct(i.duplicatePercent))
  if (i.reorderPercent !== undefined) a.push('reorder', pct(i.reorderPercent))
  if (i.rateKbit !== undefined) a.push('rate', `${i.rateKbit}kbit`)
  // netem's default queue (1000 packets) would drop under a low rate; make it long enough.
  a.push('limit', '10000')
  return a
}
