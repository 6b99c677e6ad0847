// The lock that guards the package cache, the snapshots, cluster names and
// port blocks (withDirLock), raced by real processes: in each round a holder
// is killed inside it, and then six processes meet that dead holder's lock
// at the same moment. Never two inside at once, and every failure a
// rejection of its promise (a racer that throws outside one exits non-zero).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa, type ResultPromise } from 'execa'
import { afterAll, expect, test } from 'vitest'
import { withDirLock } from '../src/host/dir-lock.ts'
import { LockError } from '../src/errors.ts'

const RACER = fileURLToPath(new URL('./helpers/lock-racer.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'xc-lock-race-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A racer process (helpers/lock-racer.ts) and the lines it printed. */
class Racer {
  readonly proc: ResultPromise
  private lines: string[] = []
  private waiters: Array<() => void> = []
  constructor(lock: string, marker: string) {
    this.proc = execa(process.execPath, ['--import', 'tsx', RACER, lock, marker], { reject: false, stdin: 'pipe', buffer: { stdout: false } })
    let buf = ''
    this.proc.stdout!.setEncoding('utf8')
    this.proc.stdout!.on('data', (d: string) => {
      buf += d
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        this.lines.push(buf.slice(0, nl))
        buf = buf.slice(nl + 1)
      }
      for (const w of this.waiters.splice(0)) w()
    })
  }
  send(cmd: string): void {
    this.proc.stdin!.write(cmd + '\n')
  }
  /** Wait until it has printed a line that `match` accepts (taken off), at most 60 s. */
  async next(match: (l: string) => boolean): Promise<string> {
    const end = Date.now() + 60_000
    for (;;) {
      const i = this.lines.findIndex(match)
      if (i >= 0) return this.lines.splice(i, 1)[0]
      if (Date.now() > end) throw new Error(`racer ${this.proc.pid}: no such line within 60 s; it printed: ${this.lines.join(' | ')}`)
      await new Promise<void>((r) => {
        this.waiters.push(r)
        setTimeout(r, 1000)
      })
    }
  }
}

test('20 rounds: a holder killed inside the lock, then 6 processes meet its lock at once: never two inside, no uncaught error', async () => {
  const lock = join(dir, '.lock')
  const marker = join(dir, 'inside')
  const racers = Array.from({ length: 6 }, () => new Racer(lock, marker))
  // The holders to kill start a few rounds ahead (a node process with tsx takes about 0.3 s to start).
  const victims = Array.from({ length: 5 }, () => new Racer(lock, marker))
  for (let round = 0; round < 20; round++) {
    const victim = victims.shift()!
    victims.push(new Racer(lock, marker))
    victim.send('hold')
    expect(await victim.next((l) => l === 'held' || l.startsWith('error'))).toBe('held')
    victim.proc.kill('SIGKILL')
    await victim.proc
    // The dead holder's lock file (with its pid, and the marker it left inside) is what the six meet, all at once.
    for (const r of racers) r.send('enter 15')
    await Promise.all(racers.map((r) => r.next((l) => l === 'done')))
  }
  for (const v of victims) v.proc.kill('SIGKILL')
  for (const r of racers) r.proc.stdin!.end()
  const results = await Promise.all(racers.map((r) => r.proc))
  const summaries = await Promise.all(racers.map(async (r) => JSON.parse(await r.next((l) => l.startsWith('{'))) as { entries: number; violations: number; errors: string[] }))
  expect(results.map((r) => [r.exitCode, r.stderr])).toEqual(racers.map(() => [0, '']))
  expect(summaries.flatMap((s) => s.errors)).toEqual([])
  expect(summaries.map((s) => s.entries)).toEqual(racers.map(() => 20))
  expect(summaries.reduce((n, s) => n + s.violations, 0)).toBe(0)
}, 300_000)

test('a wait that runs out is a LockError naming the holder, inside the promise; the lock is free again after', async () => {
  const lock = join(dir, 'timeout.lock')
  const held = withDirLock(lock, () => new Promise((r) => setTimeout(r, 1500)), 10_000, 'the test lock')
  await new Promise((r) => setTimeout(r, 200))
  const err = await withDirLock(lock, async () => 'entered', 300, 'the test lock').catch((e: unknown) => e)
  expect(err).toBeInstanceOf(LockError)
  expect(err).toMatchObject({ path: lock, timedOut: true, holder: process.pid })
  expect((err as Error).message).toBe(`the test lock (${lock}) is held by pid ${process.pid} for more than 0 s`)
  await held
  expect(await withDirLock(lock, async () => 'entered', 1000)).toBe('entered')
  // A lock whose file cannot be made is a LockError too, not a throw outside the promise.
  const p = withDirLock(join(dir, 'no-such-dir', '.lock'), async () => 'entered')
  await expect(p).rejects.toBeInstanceOf(LockError)
})
