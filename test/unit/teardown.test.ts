import { describe, expect, it } from 'vitest'
import { Teardown } from '../../src/host/teardown.ts'

describe('Teardown', () => {
  it('runs steps last first', async () => {
    const order: string[] = []
    const t = new Teardown()
    t.push('a', () => void order.push('a'))
    t.push('b', async () => void order.push('b'))
    t.push('c', () => void order.push('c'))
    await t.run()
    expect(order).toEqual(['c', 'b', 'a'])
  })

  it('waits for each async step before the next', async () => {
    const order: string[] = []
    const t = new Teardown()
    t.push('first', () => void order.push('first'))
    t.push('slow', async () => {
      order.push('slow:start')
      await new Promise((r) => setTimeout(r, 20))
      order.push('slow:end')
    })
    await t.run()
    expect(order).toEqual(['slow:start', 'slow:end', 'first'])
  })

  it('keeps going after a failure and rethrows the first error at the end', async () => {
    const order: string[] = []
    const errB = new Error('boom-b')
    const errD = new Error('boom-d')
    const t = new Teardown()
    t.push('a', () => void order.push('a'))
    t.push('b', () => {
      order.push('b')
      throw errB
    })
    t.push('c', () => void order.push('c'))
    t.push('d', async () => {
      order.push('d')
      throw errD
    })
    t.push('e', () => void order.push('e'))
    let caught: unknown
    await t.run().catch((e: unknown) => {
      caught = e
    })
    expect(order).toEqual(['e', 'd', 'c', 'b', 'a'])
    expect(caught).toBeInstanceOf(Error)
    // 'd' ran (and failed) before 'b': it is the first error.
    expect((caught as Error).message).toBe('teardown step "d" failed: boom-d')
    expect((caught as Error).cause).toBe(errD)
  })

  it('runs nothing on a second run', async () => {
    let runs = 0
    const t = new Teardown()
    t.push('x', () => {
      runs++
    })
    await t.run()
    await t.run()
    expect(runs).toBe(1)
  })

  it('does not rethrow on a second run after a failed one', async () => {
    let runs = 0
    const t = new Teardown()
    t.push('x', () => {
      runs++
      throw new Error('once')
    })
    await expect(t.run()).rejects.toThrow('teardown step "x" failed: once')
    await expect(t.run()).resolves.toBeUndefined()
    expect(runs).toBe(1)
  })

  it('runs steps pushed after a run on the next run', async () => {
    const order: string[] = []
    const t = new Teardown()
    t.push('a', () => void order.push('a'))
    await t.run()
    t.push('b', () => void order.push('b'))
    await t.run()
    expect(order).toEqual(['a', 'b'])
  })

  it('resolves with nothing to do', async () => {
    await expect(new Teardown().run()).resolves.toBeUndefined()
  })
})
