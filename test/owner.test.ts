// Nothing outlives its owner. A plain node process that owns a running
// cluster, killed with SIGKILL: its QEMUs are gone within 3 s (the kernel
// kills them: PR_SET_PDEATHSIG), and its reaper removes the rest, with no
// cleanup run by anyone. A Vitest run holding a cluster, interrupted as a
// person does (SIGINT to its process group, Ctrl-C) or as a CI runner
// cancelling a job does (SIGTERM to Vitest's main process only, its worker
// left orphaned): nothing is left, in both networking modes.
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa, type ResultPromise } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { leftovers, privateHome, processesNaming } from './helpers/host.ts'
import { waitUntil } from '../src/index.ts'
import { canBridge, skippedBecause } from './helpers/rights.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CHILD = fileURLToPath(new URL('./helpers/start-and-wait.ts', import.meta.url))
let home: string
let remove: () => Promise<void>
const dir = join(ROOT, 'test-results', `owner-${process.pid}`)
beforeAll(() => ({ home, remove } = privateHome()))
afterAll(async () => {
  await remove()
  rmSync(dir, { recursive: true, force: true })
})

/** Resolves with the first line of `p`'s stdout that starts with `prefix` (bounded). */
function lineOf(p: ResultPromise, prefix: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${prefix}" line within ${ms} ms`)), ms)
    let text = ''
    p.stdout!.on('data', (d: Buffer) => {
      text += d.toString()
      const line = text.split('\n').find((l) => l.startsWith(prefix))
      if (line) {
        clearTimeout(timer)
        resolve(line)
      }
    })
  })
}

const modes = ['user', 'bridge'] as const

describe('SIGKILL of a plain node process that owns a running cluster', () => {
  for (const network of modes) {
    const skip = network === 'bridge' && !canBridge
    test.skipIf(skip)(skippedBecause(`${network} mode: its QEMUs are gone within 3 s, the rest soon after, and no cleanup was run`, skip), async () => {
      const child = execa(process.execPath, ['--import', 'tsx', CHILD, home, network, '2'], { reject: false })
      const id = (await lineOf(child, 'up ', 120_000)).split(' ')[1]
      const run = join(home, 'run', id)
      expect(processesNaming(run).length).toBeGreaterThan(1)
      const killed = Date.now()
      child.kill('SIGKILL')
      await child
      await waitUntil(() => expect(processesNaming(run)).toEqual([]), { what: 'no process naming the state directory', timeout: 3000, interval: 50 })
      console.log(`[${network}] the killed owner's processes were gone ${Date.now() - killed} ms after the kill`)
      await waitUntil(async () => expect(await leftovers(home, [id])).toEqual([]), { what: 'nothing of the cluster left', timeout: 20_000, interval: 50 })
    })
  }
})

describe('a Vitest run holding a cluster, signalled', () => {
  const cases = [
    ['SIGINT', 'its process group (Ctrl-C)'],
    ['SIGTERM', 'its main process only (a CI runner cancelling the job)'],
  ] as const

  beforeAll(() => {
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      join(dir, 'hold.test.ts'),
      [
        "import { writeFileSync } from 'node:fs'",
        "import { test } from 'xcluster/vitest'",
        "test.override('clusterOptions', { scope: 'file' }, { name: 'held', nvm: 1, nrouters: 0, network: process.env.XC_NETWORK as 'user' | 'bridge' })",
        "test('holds its cluster until signalled', async ({ cluster }) => {",
        '  writeFileSync(process.env.XC_MARKER!, cluster.id)',
        '  await new Promise(() => {})',
        '}, 600_000)',
      ].join('\n') + '\n',
    )
    const src = (p: string): string => resolve(ROOT, 'src', p)
    writeFileSync(
      join(dir, 'vitest.config.mjs'),
      `export default { resolve: { alias: [{ find: /^xcluster\\/vitest$/, replacement: ${JSON.stringify(src('vitest/index.ts'))} }, { find: /^xcluster$/, replacement: ${JSON.stringify(src('index.ts'))} }] }, test: { include: ['hold.test.ts'], pool: 'forks', maxWorkers: 1 } }\n`,
    )
  })

  for (const network of modes) {
    for (const [signal, whom] of cases) {
      const skip = network === 'bridge' && !canBridge
      test.skipIf(skip)(skippedBecause(`${network} mode, ${signal} to ${whom}: nothing is left`, skip), async () => {
        const marker = join(dir, `marker-${network}-${signal}`)
        rmSync(marker, { force: true })
        const tmp = join(dir, `tmp-${network}-${signal}`)
        mkdirSync(tmp, { recursive: true })
        const vitest = execa(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', join(dir, 'vitest.config.mjs'), '--root', dir], {
          cwd: ROOT,
          reject: false,
          detached: true, // a process group of its own, as a terminal's foreground job has
          // A temp directory of its own: a Vitest killed by a signal leaves its module cache there, removed with the test's directory.
          env: { XCLUSTER_HOME: home, XC_NETWORK: network, XC_MARKER: marker, NO_COLOR: '1', TMPDIR: tmp },
        })
        await waitUntil(() => existsSync(marker), { what: 'the held cluster up (its marker file)', timeout: 120_000, interval: 50 })
        const id = readFileSync(marker, 'utf8').trim()
        expect(processesNaming(join(home, 'run', id)).length).toBeGreaterThan(0)
        if (signal === 'SIGINT') process.kill(-vitest.pid!, 'SIGINT')
        else process.kill(vitest.pid!, 'SIGTERM')
        const done = await Promise.race([vitest.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 60_000))])
        expect(done, 'vitest ended').toBe(true)
        // The worker, its QEMUs, relay and namespace, the state directory and the reaper: all gone.
        await waitUntil(async () => expect([await leftovers(home, [id]), processesNaming(home)]).toEqual([[], []]), { what: 'nothing of the cluster left, no process naming the home', timeout: 30_000, interval: 50 })
      })
    }
  }
})
