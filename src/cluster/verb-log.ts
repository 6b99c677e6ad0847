// What the verbs tell, in one place: each wait as it starts, ends, runs past
// its nominal budget or out of time, and the scale a cluster's budgets got.
// Listeners take the events (the Vitest fixture turns a slow wait into an
// annotation of the test); with none, the lines worth a reader's time go to
// the cluster's logger (warn: a wait over its nominal time; info: a scale
// above 1), and every event to it at debug.
import type { WaitBudget } from '../errors.ts'
import { stderrLogger, type Logger } from '../log.ts'

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

/** What `e` says, without the attribution a logger adds. */
function verbMessage(e: VerbEvent): string {
  if (e.kind === 'scale') return `wait budgets x${e.scale} on this machine (${e.how})`
  const budget = `${e.budget.name ? `budget ${e.budget.name}, ` : ''}nominal ${s(e.budget.nominalMs)} x ${e.budget.scale} = ${s(e.timeoutMs)}`
  if (e.kind === 'wait') return `waiting for ${e.what} (${budget})`
  const tries = `${e.attempts} attempt${e.attempts === 1 ? '' : 's'}`
  if (e.kind === 'timeout') return `gave up on ${e.what} after ${s(e.elapsedMs)} (${budget}; ${tries})`
  return `${e.what} took ${s(e.elapsedMs)}${overNominal(e) ? `, more than its nominal ${s(e.budget.nominalMs)}` : ''} (${budget}; ${tries})`
}

/** The one line that tells `e`, attributed as the logger would. */
export function verbLine(e: VerbEvent): string {
  const who = e.kind === 'scale' ? `cluster ${e.cluster}: ` : e.vm ? `${e.vm}: ` : ''
  return `xcluster: ${who}${verbMessage(e)}`
}

/**
 * Tell `e` to the listeners; with none, to `log` (the cluster's, or stderr's
 * for a wait on the host): a wait over its nominal time as a warning, a
 * scale above 1 as information, every event at debug.
 */
export function verbEvent(e: VerbEvent, log: Logger = stderrLogger()): void {
  if (listeners.size) {
    for (const l of listeners) l(e)
    return
  }
  const scoped = e.kind !== 'scale' && e.vm ? log.child(e.vm) : log
  if (overNominal(e)) scoped.warn(verbMessage(e))
  else if (e.kind === 'scale' && e.scale > 1) scoped.info(verbMessage(e))
  else scoped.debug(verbMessage(e))
}
