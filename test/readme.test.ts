// The README and the manual (docs/*.md) cannot drift: every code block of
// them that is a test runs here as written (one Vitest run of its own, with
// the repo's aliases and no timeouts of ours, as in a new project), every
// link between the pages lands on a page and a heading that exist, and the
// table of bad inputs is the one the validation prints.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, describe, expect, test } from 'vitest'
import { privateHome } from './helpers/host.ts'
import { canBridge, skippedBecause } from './helpers/rights.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** The README, then the manual's pages in their order on disk: path (from the repo) and text. */
const PAGES: [string, string][] = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)].map((p) => [p, readFileSync(join(ROOT, p), 'utf8')])
const README = PAGES.map(([, t]) => t).join('\n')

/** GitHub's anchor of a heading. */
const anchorOf = (h: string): string => h.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-')

/** The pages' copies of experiment files: a ```ts block right after a line that ends with `experiments/<dir>/<file>.ts`, whole: */
function copies(): Array<[file: string, text: string]> {
  return [...README.matchAll(/`(experiments\/[\w-]+\/[\w.-]+\.ts)`, whole:\n\n```ts\n([\s\S]*?)```/g)].map((m) => [m[1], m[2]])
}

/** The ```ts blocks of the README and the manual that are Vitest files (they import xcluster/vitest and define a test), but the copies of experiments (run as experiments). */
function testBlocks(): string[] {
  const copied = new Set(copies().map(([, text]) => text))
  return [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.includes("from 'xcluster/vitest'") && /\btest\(/.test(b) && !copied.has(b))
}

const dir = join(ROOT, 'test-results', `readme-${process.pid}`)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the README and the manual', () => {
  test('every link between the pages lands on a page and a heading that exist', () => {
    const anchors = new Map(PAGES.map(([p, t]) => [p, new Set([...t.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,4} (.+)$/gm)].map((m) => anchorOf(m[1])))]))
    const broken: string[] = []
    let links = 0
    for (const [p, t] of PAGES) {
      for (const m of t.matchAll(/\]\(([^)\s]*?)(?:#([^)\s]+))?\)/g)) {
        const [target, anchor] = [m[1], m[2]]
        if (/^[a-z]+:/.test(target) || /\.(svg|png)$/.test(target)) continue
        const to = target === '' ? p : join(p, '..', target).replace(/^\.\//, '')
        links++
        if (!anchors.has(to)) broken.push(`${p}: ${m[0]} (no page ${to})`)
        else if (anchor && !anchors.get(to)!.has(anchor)) broken.push(`${p}: ${m[0]} (no heading #${anchor} in ${to})`)
      }
    }
    expect(links).toBeGreaterThan(20)
    expect(broken).toEqual([])
  })

  test('has the test blocks this file runs (the seed example, writing an experiment, the VM handles, net 0 in bridge mode, custom start, Debian packages, snapshots)', () => {
    const blocks = testBlocks()
    expect(blocks.length).toBe(7)
    expect(blocks[0]).toContain("ping -c1 -W2 192.168.1.2")
  })

  // Three of the blocks use bridge mode: root, or rootless where the host allows it (canBridge).
  test.skipIf(!canBridge)(skippedBecause('every test block passes as written, with no Vitest config of its own', !canBridge), async () => {
    mkdirSync(dir, { recursive: true })
    const blocks = testBlocks()
    blocks.forEach((b, i) => writeFileSync(join(dir, `block-${i + 1}.test.ts`), b))
    // Only what a project of the user's would have: the package's two entry points. No timeouts: Vitest's defaults.
    const src = (p: string): string => resolve(ROOT, 'src', p)
    writeFileSync(
      join(dir, 'vitest.config.mjs'),
      `export default ${JSON.stringify({
        resolve: { alias: [{ find: '^xcluster/vitest$', replacement: src('vitest/index.ts') }, { find: '^xcluster$', replacement: src('index.ts') }] },
        test: { include: ['*.test.ts'], pool: 'forks', maxWorkers: 1 },
      })}\n`.replace(/"find":"(\^[^"]+\$)"/g, (_m, re: string) => `"find":new RegExp(${JSON.stringify(re)})`),
    )
    // A home of its own (the image shared): the snapshot block's save goes with it.
    const { home, remove } = privateHome()
    const r = await execa('npx', ['vitest', 'run', '--config', join(dir, 'vitest.config.mjs'), '--root', dir, '--reporter=verbose'], { cwd: ROOT, reject: false, env: { NO_COLOR: '1', XCLUSTER_HOME: home }, timeout: 600_000 }).finally(remove)
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0)
    const tests = blocks.reduce((n, b) => n + (b.match(/^test\(/gm)?.length ?? 0), 0)
    expect(r.stdout).toMatch(new RegExp(`Test Files\\s+${blocks.length} passed`))
    expect(r.stdout).toMatch(new RegExp(`Tests\\s+${tests} passed`))
  }, 600_000)

  test('shows an experiment whole, exactly as it is in experiments/ (where npm test runs it)', () => {
    const shown = copies()
    expect(shown.map(([file]) => file)).toEqual(['experiments/ospf-frr/suite.ts'])
    for (const [file, text] of shown) expect(text, file).toBe(readFileSync(join(ROOT, file), 'utf8'))
  })

  test('its table of bad inputs is the one the validation prints', async () => {
    const r = await execa('npx', ['tsx', join(ROOT, 'scripts', 'bad-input-table.ts')], { cwd: ROOT, reject: false })
    expect(r.exitCode, r.stderr).toBe(0)
    const generated = r.stdout.trim().split('\n')
    const start = README.indexOf(generated[0])
    expect(start, 'the README has the table header').toBeGreaterThan(0)
    const inReadme = README.slice(start).split('\n').slice(0, generated.length)
    expect(inReadme).toEqual(generated)
  })
})
