// Bridge mode without root, as a person on a laptop runs it: the user nobody
// (setpriv), a copy of the project it can read, an XCLUSTER_HOME of its own
// built by its own `npm run setup`, then the seed experiment and a topology
// experiment in bridge mode, rootless. /dev/net/tun is made 0600 for the
// file's duration (as on a host without udev's rule), so that what opens it
// to nobody is `xc nsadd --user nobody`; nsdel takes it back. Only nobody's
// processes are affected: root opens the device whatever its mode.
// The harness's kernel is the one thing nobody's setup does not build: it is
// copied from root's home beforehand (its output and record, owned by
// nobody), so setup finds it up to date. Building it is setup's own step as
// root (686 s of the CI run's 1252 s, on 2 cores), which this file's 5
// minutes could not hold twice; a user's own first setup builds it the same way.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { kernelPaths, xclusterHome } from '../src/host/home.ts'
import { problemsAs, readNsadd } from '../src/host/nsadd.ts'
import { TUN } from '../src/host/rootless.ts'
import { processesNaming } from './helpers/host.ts'
import { skippedBecause } from './helpers/rights.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const XC = join(ROOT, 'bin', 'xc.js')
const isRoot = process.getuid?.() === 0
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups']
// The copy: the checkout without what git ignores or setup makes (node_modules is linked in below).
const SKIP = new Set(['node_modules', '.git', 'dist', 'test-results', 'coverage'])

const why = 'runs as root: it drops to the user nobody with setpriv (as a user without root, `npm test` runs every bridge-mode test rootless itself)'

describe.skipIf(!isRoot)(skippedBecause('as the user nobody, in bridge mode without root', !isRoot, why), () => {
  let dir = ''
  let home = ''
  let tunMode = 0o666
  /** Run `argv` as nobody in the copy, with its own home. */
  const asNobody = (argv: string[], timeout = 120_000) =>
    execa('setpriv', [...NOBODY, ...argv], {
      cwd: dir, reject: false, all: true, timeout,
      env: { HOME: home, XCLUSTER_HOME: join(home, 'xcluster'), CI: 'true', PATH: process.env.PATH, npm_config_cache: join(home, 'npm-cache'), npm_config_update_notifier: 'false' },
      extendEnv: false,
    })

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xc-rootless-'))
    home = mkdtempSync(join(tmpdir(), 'xc-rootless-home-'))
    // Timestamps kept: setup's npm ci runs only when package-lock.json is newer than node_modules.
    for (const p of readdirSync(ROOT).filter((f) => !SKIP.has(f))) cpSync(join(ROOT, p), join(dir, p), { recursive: true, preserveTimestamps: true })
    // node_modules as hard links (its files stay root's, read-only to nobody), its directories nobody's (Vite writes its temp files there).
    const cp = await execa('cp', ['-al', join(ROOT, 'node_modules'), join(dir, 'node_modules')], { reject: false })
    if (cp.exitCode !== 0) await execa('cp', ['-a', join(ROOT, 'node_modules'), join(dir, 'node_modules')])
    const built = kernelPaths(xclusterHome(), 'xcluster')
    const theirs = kernelPaths(join(home, 'xcluster'), 'xcluster')
    if (existsSync(built.meta)) {
      cpSync(built.out, theirs.out, { recursive: true })
      cpSync(built.meta, theirs.meta)
    }
    await execa('sh', ['-c', 'find "$1" -path "$1/node_modules" -prune -o -print0 | xargs -0 chown 65534:65534; find "$1/node_modules" -type d -print0 | xargs -0 chown 65534:65534; chown -R 65534:65534 "$2"', 'sh', dir, home])
    chmodSync(dir, 0o755)
    chmodSync(home, 0o700)
    tunMode = statSync(TUN).mode & 0o777
    chmodSync(TUN, 0o600)
  })
  afterAll(async () => {
    if (readNsadd('nobody')) await execa(process.execPath, [XC, 'nsdel', '--user', 'nobody'], { reject: false })
    if (tunMode) chmodSync(TUN, tunMode)
    if (home && existsSync(join(home, 'xcluster'))) await asNobody([process.execPath, join(dir, 'bin', 'xc.js'), 'cleanup'])
    for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true })
  })

  test("npm run setup as nobody finds the host packages and the harness's kernel (copied in) and builds an image in its own home", async () => {
    const r = await asNobody(['npm', 'run', 'setup'], 240_000)
    expect(r.exitCode, r.all).toBe(0)
    expect(r.all).toMatch(/kernel xcluster is up to date/)
    expect(r.all).toContain('setup: Debian packages present')
    expect(r.all).toContain('setup: npm dependencies up to date')
    expect(existsSync(join(home, 'xcluster', 'image', 'manifest.json'))).toBe(true)
  })

  test('with /dev/net/tun 0600, bridge mode as nobody is a PermissionError that names it and what to do; nothing starts', async () => {
    // nobody runs the copy's xc: the checkout itself may be in a directory nobody cannot enter (a 0700 clone).
    const r = await asNobody([process.execPath, join(dir, 'bin', 'xc.js'), 'start', '--network=bridge', '--nvm=1', '--nrouters=0'])
    expect(r.exitCode, r.all).not.toBe(0)
    expect(r.all).toContain('cannot open /dev/net/tun (mode 0600)')
    expect(r.all).toContain('xc nsadd --user nobody')
    expect(r.all).not.toContain('user namespaces')
    const run = join(home, 'xcluster', 'run')
    expect(existsSync(run) ? readdirSync(run).filter((f) => /^[0-9a-f]{8}$/.test(f)) : []).toEqual([])
  })

  test('after xc nsadd --user nobody, the seed experiment and the xnet topology pass in bridge mode as nobody (rootless), none skipped', async () => {
    const add = await execa(process.execPath, [XC, 'nsadd', '--user', 'nobody'], { reject: false, all: true })
    expect(add.exitCode, add.all).toBe(0)
    expect(add.all).toContain('nobody can run network: \'bridge\' without root')
    const report = join(home, 'report.json')
    const r = await asNobody(['npx', 'vitest', 'run', 'experiments/user-space/bridge.test.ts', 'experiments/topology-xnet/bridge.test.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], 300_000)
    expect(r.exitCode, r.all).toBe(0)
    const json = JSON.parse(readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTotalTests: number }
    console.log(`[rootless] as nobody: ${json.numPassedTests} of ${json.numTotalTests} passed`)
    expect(json.numFailedTests).toBe(0)
    expect(json.numPendingTests).toBe(0)
    expect(json.numPassedTests).toBe(json.numTotalTests)
    expect(json.numTotalTests).toBeGreaterThanOrEqual(10)
    // Nothing of nobody's clusters is left: no QEMU or relay (whose namespaces, taps and bridges go with them), no state.
    expect(processesNaming(join(home, 'xcluster', 'run'))).toEqual([])
    expect(readdirSync(join(home, 'xcluster', 'run')).filter((f) => /^[0-9a-f]{8}$/.test(f))).toEqual([])
  })

  test('xc nsdel --user nobody takes the right back: nobody cannot open /dev/net/tun again', async () => {
    const del = await execa(process.execPath, [XC, 'nsdel', '--user', 'nobody'], { reject: false, all: true })
    expect(del.exitCode, del.all).toBe(0)
    expect(del.all).toContain('ACL entry of nobody removed')
    expect(problemsAs('nobody')).toEqual(['nobody cannot open /dev/net/tun'])
    expect(readNsadd('nobody')).toBeUndefined()
  })
})
