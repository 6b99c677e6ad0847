// The checks of the budget options (`budgets`, `budgetsVm`, `budgetScale`).
import { Checker, show } from '../pure/check.ts'
import { MAX_BUDGET_MS, type Budgets } from '../plan/budgets.ts'

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/

/** Check one budgets object (`budgets`, `budgetsVm[N]`): names as identifiers, values whole milliseconds 1-MAX_BUDGET_MS. */
export function checkBudgets(c: Checker, key: string, v: unknown): Budgets | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    c.add(`Expected \`${key}\` to be an object of budgets by name in ms (e.g. { bgpSession: 90000 }), got ${show(v)}`)
    return undefined
  }
  const out: Budgets = {}
  for (const [name, ms] of Object.entries(v)) {
    if (!NAME.test(name)) c.add(`Expected the names in \`${key}\` to be identifiers (letters, digits, _ and -), got ${show(name)}`)
    else if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > MAX_BUDGET_MS) c.add(`Expected \`${key}.${name}\` to be whole milliseconds 1-${MAX_BUDGET_MS}, got ${show(ms)}`)
    else out[name] = ms
  }
  return out
}

/** Check `budgetScale`: 'auto' (measured) or a fixed number 0.1-100. */
export function checkBudgetScale(c: Checker, key: string, v: unknown): number | 'auto' | undefined {
  if (v === undefined || v === 'auto') return v
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0.1 && v <= 100) return v
  c.add(`Expected \`${key}\` to be 'auto' or a number 0.1-100 (the factor every wait budget is multiplied by), got ${show(v)}`)
  return undefined
}

