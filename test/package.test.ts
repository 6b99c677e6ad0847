// The package in a user's own project, as a new user would try it: npm pack
// of this repo, the tarball installed into a new project in a fresh 0700
// directory (its dependencies from the registry), and there the README's
// first example as a Vitest file with no Vitest config, a plain node script
// on the library, npx xc start / rsh / stop, and tsc with TypeScript's own
// `tsc --init` config on an experiment with the matchers and on the README's
// TypeScript examples. Nothing is left after.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { leftovers, privateHome, processesNaming, watchClusterIds } from './helpers/host.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** An experiment of the user's own with both matchers (typechecked in the project, not run). */
const TYPED = `import { test, expect } from 'xcluster/vitest'

test.override('clusterOptions', { scope: 'file' }, { nvm: 2, nrouters: 1 })

test('vm-001 reaches vm-002 and the router, not what is not there', async ({ cluster }) => {
  await expect(cluster.vm(1)).toReach('192.168.1.2')
  await expect(cluster.vm(1)).not.toReach('192.168.1.99', 1)
  await expect(cluster).toHaveReachability({ from: [1, 2], to: ['192.168.1.201'], expect: [[true], [true]] })
})
`
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')
/** The README and the manual's pages: their ts examples are typechecked as a user's project sees them. */
const MANUAL = [README, ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => readFileSync(join(ROOT, 'docs', f), 'utf8'))].join('\n')
let project: string
let home: string
let removeHome: () => Promise<void>
let ids: () => Set<string>

beforeAll(async () => {
  ;({ home, remove: removeHome } = privateHome())
  ids = watchClusterIds(home)
  project = mkdtempSync(join(tmpdir(), 'xc-user-project-'))
  const pack = await execa('npm', ['pack', '--silent', '--pack-destination', project], { cwd: ROOT })
  const tarball = join(project, pack.stdout.trim().split('\n').at(-1)!)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-experiments', private: true, type: 'module' }, null, 2) + '\n')
  await execa('npm', ['install', '--no-audit', '--no-fund', tarball, 'vitest@4.1'], { cwd: project })
}, 600_000)

afterAll(async () => {
  await removeHome?.()
  if (project) rmSync(project, { recursive: true, force: true })
})

/** Run a program in the user's project, with the private home. */
const run = (file: string, args: string[]) =>
  execa(file, args, { cwd: project, reject: false, env: { XCLUSTER_HOME: home, NO_COLOR: '1' }, timeout: 400_000 })

describe('xcluster installed from its tarball into a new project', () => {
  test('the project is private (0700) and the package ships JavaScript, no TypeScript source', () => {
    expect(statSync(project).mode & 0o777).toBe(0o700)
    const pkg = join(project, 'node_modules', 'xcluster')
    const files = readdirSync(pkg)
    expect(files).toContain('dist')
    expect(files).not.toContain('src')
    expect(readdirSync(join(pkg, 'dist', 'cli'))).toContain('main.js')
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'))
    expect(manifest.dependencies.tsx).toBeUndefined()
    expect(readdirSync(join(project, 'node_modules'))).not.toContain('tsx')
  })

  test("the README's first example passes as a Vitest file, with no Vitest config", async () => {
    const first = /```ts\n([\s\S]*?)```/.exec(README)![1]
    expect(first).toContain("from 'xcluster/vitest'")
    writeFileSync(join(project, 'seed.test.ts'), first)
    const r = await run('npx', ['vitest', 'run', 'seed.test.ts'])
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0)
    expect(r.stdout).toMatch(/Tests\s+1 passed/)
  })

  test('a boot that is too slow fails with VmBootError naming the VM, not a bare Vitest timeout', async () => {
    writeFileSync(
      join(project, 'slow.test.ts'),
      `import { test } from 'xcluster/vitest'\n` +
        `test.override('clusterOptions', { scope: 'file' }, { nvm: 1, nrouters: 0, bootTimeout: 500 })\n` +
        `test('needs the cluster', async ({ cluster }) => { await cluster.vm(1).exec('true') })\n`,
    )
    const r = await run('npx', ['vitest', 'run', 'slow.test.ts'])
    expect(r.exitCode).toBe(1)
    expect(r.stdout + r.stderr).toMatch(/VmBootError: vm-001 did not boot/)
    expect(r.stdout + r.stderr).not.toMatch(/timed out in \d+ms/)
  })

  test("a plain node script (the README's example without Vitest) starts a one-VM cluster, runs a command and stops it", async () => {
    const script = /```js\n([\s\S]*?)```/.exec(README)![1]
    expect(script).toContain("from 'xcluster'")
    writeFileSync(join(project, 'one-vm.mjs'), script)
    const r = await run(process.execPath, ['one-vm.mjs'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe('vm-001')
  })

  test('npx xc start, xc rsh 1 hostname and xc stop work', async () => {
    const start = await run('npx', ['xc', 'start', '--name=pkg', '--nvm=1', '--nrouters=0'])
    expect(start.exitCode, start.stderr).toBe(0)
    expect(start.stdout).toMatch(/^cluster pkg \([0-9a-f]{8}\) is up: vm-001/)
    const rsh = await run('npx', ['xc', 'rsh', '--name=pkg', '1', 'hostname'])
    expect([rsh.exitCode, rsh.stdout], rsh.stderr).toEqual([0, 'vm-001'])
    const stop = await run('npx', ['xc', 'stop', '--name=pkg'])
    expect(stop.exitCode, stop.stderr).toBe(0)
  })

  test('XCLUSTER_HOOK: a TypeScript hook without tsx in the project says what to do; a .mjs hook lists its functions when asked for another', async () => {
    // Node 20 has no TypeScript of its own (Node 22.6+ strips types: process.features.typescript), and tsx is no dependency of xcluster.
    const strips = (process.features as { typescript?: string }).typescript !== undefined
    writeFileSync(join(project, 'hook.ts'), "import type { StartContext } from 'xcluster'\nexport async function mystart(ctx: StartContext): Promise<void> { await ctx.boot() }\n")
    const ts = await execa('npx', ['xc', strips ? 'nostart' : 'mystart'], { cwd: project, reject: false, env: { XCLUSTER_HOME: home, XCLUSTER_HOOK: 'hook.ts' } })
    expect(ts.exitCode).toBe(1)
    if (strips) expect(ts.stderr).toContain('its functions: mystart.')
    else {
      expect(ts.stderr).toContain(`xc mystart: XCLUSTER_HOOK=hook.ts is TypeScript, which Node ${process.versions.node} cannot import without a loader, and no tsx was found`)
      expect(ts.stderr).toContain('npm install -D tsx')
    }
    writeFileSync(join(project, 'hook.mjs'), 'export async function mystart(ctx) { await ctx.boot() }\n')
    const other = await execa('npx', ['xc', 'yourstart'], { cwd: project, reject: false, env: { XCLUSTER_HOME: home, XCLUSTER_HOOK: 'hook.mjs' } })
    expect([other.exitCode, other.stderr]).toEqual([1, expect.stringContaining('exports no function `yourstart` or `cmd_yourstart`; its functions: mystart.')])
  })

  test("tsc in the project (TypeScript's own `tsc --init` config): the matchers are typed through xcluster/vitest, every ts example of the README and the manual checks, a misspelled fixture name is caught", async () => {
    // The repo's TypeScript (the 5.9 a user installs), run in the project: it sees only the project's node_modules.
    const tsc = (...args: string[]) => run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), ...args])
    expect((await tsc('--init')).exitCode).toBe(0)
    writeFileSync(join(project, 'typed.test.ts'), TYPED)
    // The README's ts examples, as files of the project (not *.test.ts: checked, not run here).
    const blocks = [...MANUAL.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
    expect(blocks.length).toBeGreaterThan(5)
    blocks.forEach((b, i) => writeFileSync(join(project, `readme-${i + 1}.ts`), b))
    const ok = await tsc('-p', '.', '--noEmit')
    expect(ok.exitCode, ok.stdout).toBe(0)
    // test.override with a fixture name that does not exist: Vitest would boot the default cluster and pass; tsc says no.
    writeFileSync(join(project, 'typo.test.ts'), TYPED.replace("test.override('clusterOptions'", "test.override('clusterOption'"))
    const bad = await tsc('-p', '.', '--noEmit')
    expect(bad.exitCode).toBe(2)
    const errors = bad.stdout.split('\n').filter((l) => /^\S+\.ts\(\d+,\d+\): error/.test(l))
    expect(errors, bad.stdout).toEqual([expect.stringMatching(/^typo\.test\.ts\(3,15\): error TS2769: No overload matches this call\./)])
    expect(bad.stdout).toContain(`Argument of type '"clusterOption"' is not assignable to parameter of type`)
    rmSync(join(project, 'typo.test.ts'))
  })

  test('nothing is left: no state, no process, no port block of the clusters it made', async () => {
    const seen = ids()
    expect(seen.size).toBe(4)
    expect(await leftovers(home, seen)).toEqual([])
    expect(processesNaming(project)).toEqual([])
  })
})
