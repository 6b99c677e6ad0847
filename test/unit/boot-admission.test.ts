// The admission of boots: mapLimit with an admit function, and the load gate.
import { describe, expect, it } from 'vitest'
import { loadGate, mapLimit, runnableTasks } from '../../src/cluster/admission.ts'

describe('mapLimit with admission', () => {
  it('asks admit before every start, with how many run, and keeps to the limit', async () => {
    const seen: number[] = []
    let running = 0
    let peak = 0
    const results = await mapLimit(
      [1, 2, 3, 4, 5, 6],
      3,
      async (x) => {
        running++
        peak = Math.max(peak, running)
        await new Promise((r) => setTimeout(r, 10))
        running--
        return x * 2
      },
      async (n) => {
        seen.push(n())
      },
    )
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : NaN))).toEqual([2, 4, 6, 8, 10, 12])
    expect(seen).toHaveLength(6)
    expect(peak).toBeLessThanOrEqual(3)
  })

  it('holds starts while admit waits, and admit sees the running count change', async () => {
    let running = 0
    let peak = 0
    await mapLimit(
      [1, 2, 3, 4],
      4,
      async () => {
        running++
        peak = Math.max(peak, running)
        await new Promise((r) => setTimeout(r, 5))
        running--
      },
      async (now) => {
        // Admit only into an idle pool: the pool's count must fall back to 0 while we wait.
        while (now() > 0) await new Promise((r) => setTimeout(r, 1))
      },
    )
    expect(peak).toBe(1)
  })
})

describe('loadGate', () => {
  it('reads the runnable tasks of this host', () => {
    const r = runnableTasks()
    expect(r).toBeTypeOf('number')
    expect(r!).toBeGreaterThanOrEqual(0)
  })

  it('admits at once when nothing of ours is booting, whatever the load', async () => {
    const gate = loadGate(0) // 0 cores: any runnable task is too many
    await expect(Promise.race([gate(() => 0).then(() => 'admitted'), new Promise((r) => setTimeout(() => r('held'), 500))])).resolves.toBe('admitted')
  })

  it('admits a waiting boot once ours are done, even if the host stays busy', async () => {
    const { Worker } = await import('node:worker_threads')
    const w = new Worker('const end = Date.now() + 3000; while (Date.now() < end) {}', { eval: true })
    try {
      await new Promise((r) => setTimeout(r, 200))
      let ours = 1
      setTimeout(() => (ours = 0), 300)
      const outcome = await Promise.race([loadGate(0, 20)(() => ours).then(() => 'admitted'), new Promise((r) => setTimeout(() => r('held'), 2000))])
      expect(outcome).toBe('admitted')
    } finally {
      await w.terminate()
    }
  })

  it('holds a boot while the host is busier than twice its cores', async () => {
    // Keep this process busy in a worker so that at least one task is runnable besides the reader.
    const { Worker } = await import('node:worker_threads')
    const w = new Worker('const end = Date.now() + 3000; while (Date.now() < end) {}', { eval: true })
    try {
      await new Promise((r) => setTimeout(r, 200))
      const gate = loadGate(0, 20) // 0 cores: the busy worker alone is over the bound
      const outcome = await Promise.race([gate(() => 1).then(() => 'admitted'), new Promise((r) => setTimeout(() => r('held'), 500))])
      expect(outcome).toBe('held')
    } finally {
      await w.terminate()
    }
  })
})
