// XCLUSTER_HOOK's pure parts: which export a command name runs, which exports
// count as functions, which modules need a TypeScript loader.
import { describe, expect, it } from 'vitest'
import { exportedFunctions, hookCommand, isTypeScript, pickStart } from '../../src/cli/hook-commands.ts'

describe('XCLUSTER_HOOK', () => {
  const f = async (): Promise<void> => {}
  it('runs `name`, else `cmd_name` (xcluster named its hook functions so), the plain name first', () => {
    expect(pickStart({ mystart: f, cmd_mystart: f }, 'mystart')).toBe('mystart')
    expect(pickStart({ cmd_mystart: f }, 'mystart')).toBe('cmd_mystart')
    expect(pickStart({ mystart: 1, other: f }, 'mystart')).toBeUndefined()
  })
  it('lists functions only, a default export object\'s too', () => {
    expect(Object.keys(exportedFunctions({ a: f, b: 1, default: { c: f, d: 'x' } })).sort()).toEqual(['a', 'c'])
  })
  it('takes .ts, .mts, .cts and .tsx for TypeScript', () => {
    expect(['h.ts', 'h.mts', 'h.cts', 'h.tsx', 'h.mjs', 'h.js', 'hook'].map(isTypeScript)).toEqual([true, true, true, true, false, false, false])
  })
  it('makes no command without XCLUSTER_HOOK, nor for a name that is no identifier', () => {
    expect(hookCommand('mystart', {})).toBeUndefined()
    expect(hookCommand('my-start', { XCLUSTER_HOOK: '/x.mjs' })).toBeUndefined()
    expect(hookCommand('mystart', { XCLUSTER_HOOK: '/x.mjs' })?.usage).toBe('mystart [cluster options] [overlay...]')
  })
})
