// What the verbs tell, in one place: each wait as it starts, ends, runs past
// its nominal budget or out of time, and the scale a cluster's budgets got.
// Listeners take the events (the Vitest fixture turns a slow wait into an
// annotation of the test); with none, the lines worth a reader's time go to
// stderr. A logger of log sections takes them from here.
import type { WaitBudget } from '../errors.ts'

export type VerbEvent =
  | { kind: 'wait'; vm?: string; what: string; timeoutMs: number; budget: WaitBudget }
  | { kind: 'done'; vm?: string; what: string; timeoutMs: number; budget: WaitBudget; elapsedMs: number; attempts: number }
  | { kind: 'timeout'; vm?: string; what: string; timeoutMs: number; budget: WaitBudget; elapsedMs: number; attempts: number }
  | { kind: 'scale'; cluster: string; scale: number; how: string }

type Listener = (e: VerbEvent) => void

const listeners = new Set<Listener>()

/** Listen to the verbs' events; returns the function that stops listening. */
export function onVerbEvent(fn: Listener): () => void {
  listeners.add(fn)
  return () => void listeners.delete(fn)
}

/** A wait that ended in time but after more than its budget's nominal time (so only the machine's scale let it pass). */
export function overNominal(e: VerbEvent): e is Extract<VerbEvent, { kind: 'done' }> {
  return e.kind === 'done' && e.elapsedMs > e.budget.nominalMs
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

/** The one line that tells `e`. */
export function verbLine(e: VerbEvent): string {
  if (e.kind === 'scale') return `xcluster: cluster ${e.cluster}: wait budgets x${e.scale} on this machine (${e.how})`
  const who = e.vm ? `${e.vm}: ` : ''
  const budget = `${e.budget.name ? `budget ${e.budget.name}, ` : ''}nominal ${s(e.budget.nominalMs)} x ${e.budget.scale} = ${s(e.timeoutMs)}`
  if (e.kind === 'wait') return `xcluster: ${who}waiting for ${e.what} (${budget})`
  const tries = `${e.attempts} attempt${e.attempts === 1 ? '' : 's'}`
  if (e.kind === 'timeout') return `xcluster: ${who}gave up on ${e.what} after ${s(e.elapsedMs)} (${budget}; ${tries})`
  return `xcluster: ${who}${e.what} took ${s(e.elapsedMs)}${overNominal(e) ? `, more than its nominal ${s(e.budget.nominalMs)}` : ''} (${budget}; ${tries})`
}

/** Tell `e` to the listeners; with none, a wait over its nominal time and a scale above 1 go to stderr. */
export function verbEvent(e: VerbEvent): void {
  if (listeners.size) {
    for (const l of listeners) l(e)
    return
  }
  if (overNominal(e) || (e.kind === 'scale' && e.scale > 1)) process.stderr.write(`${verbLine(e)}\n`)
}
