// rc scripts that fail at boot show: one that exits non-zero and one that
// is not executable are reported during the start (stderr, the VM's
// rcFailures, the test's report), naming the VM, the script, the exit code
// and its last lines of output and error, labelled. With rcFailures: 'fail'
// (the Vitest fixture's default) the start is a VmBootError naming them, at
// once, and nothing is left.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { VmBootError, startCluster } from '../src/index.ts'
import { BROKEN_RC_OVERLAY } from '../fixtures/index.ts'
import { leftovers, privateHome, watchClusterIds } from './helpers/host.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
let home: string
let remove: () => Promise<void>
beforeAll(() => void ({ home, remove } = privateHome()))
afterAll(() => remove())

/** The stderr lines written while `fn` runs (in this process). */
async function stderrOf<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; stderr: string }> {
  const chunks: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((c: string | Uint8Array, ...rest: never[]) => (chunks.push(String(c)), write(c, ...rest))) as typeof process.stderr.write
  try {
    return { value: await fn(), stderr: chunks.join('') }
  } catch (error) {
    return { error, stderr: chunks.join('') }
  } finally {
    process.stderr.write = write
  }
}

describe('rc scripts that fail at boot', () => {
  test("rcFailures: 'report' (the library's default): said on stderr during the start and kept on the VM, which is ready and usable", async () => {
    const { value: cluster, stderr, error } = await stderrOf(() => startCluster({ home, name: 'rc-report', nvm: 1, nrouters: 0, overlays: [BROKEN_RC_OVERLAY] }))
    expect(error).toBeUndefined()
    try {
      const vm = cluster!.vm(1)
      expect(vm.rcFailures).toEqual([
        {
          script: '/etc/init.d/20bad.rc',
          exitCode: 3,
          notExecutable: false,
          // The last 10 lines of its output, and its error apart.
          stdout: ['out line 4', 'out line 5', 'out line 6', 'out line 7', 'out line 8', 'out line 9', 'out line 10', 'out line 11', 'out line 12', 'net.ipv4.ip_forward = 1'],
          stderr: ['bird: /etc/bird/bird.conf: Is a directory'],
        },
        { script: '/etc/init.d/30noexec.rc', notExecutable: true, stdout: [], stderr: [] },
      ])
      expect(stderr).toContain('xcluster: cluster rc-report: vm-001: rc script /etc/init.d/20bad.rc exited with 3\n')
      expect(stderr).toContain('  stdout (last 10 lines, all in /var/log/20bad.rc.log):\n    out line 4\n')
      expect(stderr).toContain('  stderr (last 1 line, all in /var/log/20bad.rc.err):\n    bird: /etc/bird/bird.conf: Is a directory\n')
      expect(stderr).toContain('xcluster: cluster rc-report: vm-001: rc script /etc/init.d/30noexec.rc is not executable (not run; chmod +x it in the overlay)\n')
      // The rc script that succeeded is not reported; the whole output and error are in the VM.
      expect(stderr).not.toContain('10ok.rc')
      expect(await vm.run('cat /var/log/10ok.rc.log /var/log/20bad.rc.err')).toBe('started fine\nbird: /etc/bird/bird.conf: Is a directory\n')
      expect((await vm.exec('test -e /var/log/30noexec.rc.log')).exitCode).not.toBe(0)
      // The console says which script and with what code (not the first line of its output).
      expect(vm.console()).toContain('xc: /etc/init.d/20bad.rc exited with 3: bird: /etc/bird/bird.conf: Is a directory')
    } finally {
      await cluster?.stop()
    }
  })

  test("rcFailures: 'fail': the start is a VmBootError naming the VM, each script, its code and its labelled last lines; nothing is left", async () => {
    const ids = watchClusterIds(home)
    const t0 = Date.now()
    const err = await startCluster({ home, name: 'rc-fail', nvm: 1, nrouters: 1, overlaysVm: { 201: [BROKEN_RC_OVERLAY] }, rcFailures: 'fail' }).catch((e: unknown) => e)
    const took = Date.now() - t0
    expect(err).toBeInstanceOf(VmBootError)
    const e = err as VmBootError
    expect(e.vm).toBe('vm-201')
    expect(e.rcFailures.map((f) => [f.script, f.exitCode, f.notExecutable])).toEqual([['/etc/init.d/20bad.rc', 3, false], ['/etc/init.d/30noexec.rc', undefined, true]])
    expect(e.message).toContain("vm-201 did not boot: 2 rc scripts failed (rcFailures: 'fail'):\nvm-201: rc script /etc/init.d/20bad.rc exited with 3\n")
    expect(e.message).toContain('  stderr (last 1 line, all in /var/log/20bad.rc.err):\n    bird: /etc/bird/bird.conf: Is a directory')
    expect(e.message).toContain('vm-201: rc script /etc/init.d/30noexec.rc is not executable')
    // At once: at the ready point, not after a boot timeout (90 s and more under TCG).
    expect(took).toBeLessThan(60_000)
    expect(await leftovers(home, ids())).toEqual([])
  })
})

describe('in a Vitest file, with the fixture', () => {
  const dir = join(ROOT, 'test-results', `rc-failures-${process.pid}`)
  const REPORTER = `import { writeFileSync } from 'node:fs'
export default class {
  annotations = []
  onTestCaseAnnotate(testCase, annotation) { this.annotations.push({ test: testCase.name, ...annotation }) }
  onTestRunEnd() { writeFileSync(process.env.XC_ANNOTATIONS, JSON.stringify(this.annotations, null, 2)) }
}
`
  beforeAll(() => {
    mkdirSync(dir, { recursive: true })
    const overlay = JSON.stringify(BROKEN_RC_OVERLAY)
    writeFileSync(
      join(dir, 'broken.test.ts'),
      `import { test, expect } from 'xcluster/vitest'\n` +
        `test.override('clusterOptions', { scope: 'file' }, { nvm: 1, nrouters: 0, overlays: [${overlay}] })\n` +
        `test('first', async ({ cluster }) => { expect(await cluster.vm(1).ping('192.168.0.1')).toBe(true) })\n` +
        `test('second', async ({ cluster }) => { expect(cluster.vms.length).toBe(1) })\n`,
    )
    writeFileSync(
      join(dir, 'reported.test.ts'),
      `import { test, expect } from 'xcluster/vitest'\n` +
        `test.override('clusterOptions', { scope: 'file' }, { nvm: 1, nrouters: 0, overlays: [${overlay}], rcFailures: 'report' })\n` +
        `test('runs anyway', async ({ cluster }) => { expect(cluster.vm(1).rcFailures.length).toBe(2) })\n`,
    )
    writeFileSync(join(dir, 'annotations-reporter.mjs'), REPORTER)
    const src = (p: string): string => resolve(ROOT, 'src', p)
    writeFileSync(
      join(dir, 'vitest.config.mjs'),
      `export default { resolve: { alias: [{ find: /^xcluster\\/vitest$/, replacement: ${JSON.stringify(src('vitest/index.ts'))} }, { find: /^xcluster$/, replacement: ${JSON.stringify(src('index.ts'))} }] }, test: { include: ['*.test.ts'], pool: 'forks', maxWorkers: 1 } }\n`,
    )
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('a broken overlay fails the first test at once with the reason (the default); with rcFailures: report the test runs and its report has them', async () => {
    const ids = watchClusterIds(home)
    const out = join(dir, 'annotations.json')
    const r = await execa(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', join(dir, 'vitest.config.mjs'), '--root', dir, '--reporter=default', `--reporter=${join(dir, 'annotations-reporter.mjs')}`], {
      cwd: ROOT, reject: false, env: { XCLUSTER_HOME: home, XC_ANNOTATIONS: out, NO_COLOR: '1' }, timeout: 300_000,
    })
    const all = r.stdout + r.stderr
    expect(r.exitCode, all).toBe(1)
    // Both tests of the broken file fail with the boot error; the other file passes.
    expect(all).toMatch(/Tests\s+2 failed \| 1 passed/)
    expect(all).toContain('VmBootError: vm-001 did not boot: 2 rc scripts failed')
    expect(all).toContain('vm-001: rc script /etc/init.d/20bad.rc exited with 3')
    expect(all).toContain('    bird: /etc/bird/bird.conf: Is a directory')
    // The broken file took a boot, not a timeout: Vitest's duration of it.
    const ms = Number(/broken\.test\.ts \(2 tests \| 2 failed\) (\d+)ms/.exec(all)?.[1])
    expect(ms, all).toBeLessThan(60_000)
    // rcFailures: 'report' in the fixture: the run's stderr and the test's report (an annotation) have them.
    expect(r.stderr).toContain('vm-001: rc script /etc/init.d/30noexec.rc is not executable')
    const annotations = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Array<{ test: string; type: string; message: string }>) : []
    const rc = annotations.find((a) => a.type === 'xcluster rc scripts')
    expect(rc?.test, JSON.stringify(annotations)).toBe('runs anyway')
    expect(rc?.message).toContain('vm-001: rc script /etc/init.d/20bad.rc exited with 3')
    expect(await leftovers(home, ids())).toEqual([])
  })
})
