// Failures a person can look at: a deliberately failing experiment, run by
// Vitest as a user would, gets every VM's whole console, its boot timeline,
// the topology picture, the plan and the pcap of the capture that ran during
// the test attached through Vitest's annotations (read here by a reporter of
// the run's own); a slow boot says how many VMs are up; nothing is left
// after a failing run. With XCLUSTER_KEEP=on-failure the failing file's
// cluster stays up after Vitest has exited, answers xc rsh by the name the
// run printed, and xc stop removes it.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { pcapPackets } from '../src/vitest/failure-report.ts'
import { leftovers, privateHome, processesNaming, watchClusterIds } from './helpers/host.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const XC = join(ROOT, 'bin', 'xc.js')
const dir = join(ROOT, 'test-results', `failure-report-${process.pid}`)
let home: string
let remove: () => Promise<void>
let attachmentsOfFirstRun: string[] = []

const FAILING = `import { test, expect } from 'xcluster/vitest'
test.override('clusterOptions', { scope: 'file' }, { nvm: 2, nrouters: 1, tools: true, bootConcurrency: 1 })
test.override('captures', { scope: 'file' }, [{ vm: 1, iface: 'eth1', filter: 'icmp' }])
test('passes', async ({ cluster }) => {
  expect(await cluster.vm(1).ping('192.168.1.2')).toBe(true)
})
test('fails on purpose', async ({ cluster }) => {
  expect(await cluster.vm(1).ping('192.168.1.201')).toBe(true)
  expect((await cluster.vm(1).exec('hostname')).stdout).toBe('not-this')
})
`

// A reporter of the run's own: every annotation, with the test it belongs to.
const REPORTER = `import { writeFileSync } from 'node:fs'
export default class {
  annotations = []
  onTestCaseAnnotate(testCase, annotation) { this.annotations.push({ test: testCase.name, ...annotation }) }
  onTestRunEnd() { writeFileSync(process.env.XC_ANNOTATIONS, JSON.stringify(this.annotations, null, 2)) }
}
`

interface Annotation {
  test: string
  message: string
  type: string
  attachment?: { path?: string; contentType?: string; body?: string; bodyEncoding?: string }
}

beforeAll(() => {
  ;({ home, remove } = privateHome())
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'failing.test.ts'), FAILING)
  writeFileSync(join(dir, 'annotations-reporter.mjs'), REPORTER)
  const src = (p: string): string => resolve(ROOT, 'src', p)
  writeFileSync(
    join(dir, 'vitest.config.mjs'),
    `export default { resolve: { alias: [{ find: /^xcluster\\/vitest$/, replacement: ${JSON.stringify(src('vitest/index.ts'))} }, { find: /^xcluster$/, replacement: ${JSON.stringify(src('index.ts'))} }] }, test: { include: ['failing.test.ts'], pool: 'forks', maxWorkers: 1, attachmentsDir: 'attachments' } }\n`,
  )
})
afterAll(async () => {
  await remove()
  rmSync(dir, { recursive: true, force: true })
})

/** Run the failing file with Vitest, as a user would; its result and the annotations its reporter saw. */
async function runFailing(env: Record<string, string> = {}) {
  const out = join(dir, `annotations-${Object.keys(env).join('-') || 'plain'}.json`)
  const r = await execa(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', join(dir, 'vitest.config.mjs'), '--root', dir, '--reporter=default', `--reporter=${join(dir, 'annotations-reporter.mjs')}`], {
    cwd: ROOT,
    reject: false,
    env: { XCLUSTER_HOME: home, XC_ANNOTATIONS: out, NO_COLOR: '1', ...env },
    timeout: 300_000,
  })
  const annotations = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Annotation[]) : []
  return { r, annotations }
}

describe('a failing experiment', () => {
  test('gets the consoles, boot timelines, picture, plan and capture attached; a slow boot says how many VMs are up; nothing is left', async () => {
    const ids = watchClusterIds(home)
    const { r, annotations } = await runFailing()
    expect(r.exitCode, r.stdout + r.stderr).toBe(1)
    // Only the failing test gets the report.
    expect(annotations.every((a) => a.test === 'fails on purpose'), JSON.stringify(annotations.map((a) => [a.test, a.message]))).toBe(true)
    const by = (start: string): Annotation | undefined => annotations.find((a) => a.message.startsWith(start))
    for (const vm of ['vm-001', 'vm-002', 'vm-201']) {
      const con = by(`console of ${vm}`)
      expect(con?.attachment?.contentType, JSON.stringify(annotations.map((a) => a.message))).toBe('text/plain')
      // The whole console, copied into the attachments directory.
      const text = readFileSync(resolve(dir, con!.attachment!.path!), 'utf8')
      expect(text).toContain('xc-phase: init')
      expect(text).toContain('xc-phase: ready')
      expect(by(`boot timeline of ${vm}`)?.message).toMatch(/init [\d.]+ s, network [\d.]+ s, telnet [\d.]+ s, ready [\d.]+ s/)
    }
    const svg = by('topology of cluster')
    expect(svg?.attachment?.contentType).toBe('image/svg+xml')
    const att = svg!.attachment!
    const svgText = att.path ? readFileSync(resolve(dir, att.path), 'utf8') : att.bodyEncoding === 'utf-8' ? att.body! : Buffer.from(att.body!, 'base64').toString()
    expect(svgText).toContain('<svg')
    expect(svgText).toContain('vm-201')
    const plan = by('plan of cluster')
    expect(plan?.attachment?.contentType).toBe('application/json')
    const cap = by('capture of vm-001 eth1')
    // The message of a file attachment is the same in every run (it names the copy); the counts go with the summary.
    expect(cap?.message).toBe('capture of vm-001 eth1')
    expect(by('capture summary of vm-001 eth1')?.message).toMatch(/^capture summary of vm-001 eth1: [1-9]\d* packets, \d+ bytes$/)
    const pcap = readFileSync(resolve(dir, cap!.attachment!.path!))
    // The failing test's own ping went out on eth1 during the capture.
    expect(pcapPackets(pcap)).toBeGreaterThan(0)
    // With a short text summary of its packets, as the host's tcpdump reads them.
    expect(by('capture summary of vm-001 eth1')?.attachment?.body).toMatch(/192\.168\.1\.1 > 192\.168\.1\.201: ICMP echo request/)
    // Three VMs booted one at a time take more than 5 s: the run said how many were up.
    // The fixture logs into the test's output (the console Vitest gives the test), stdout for info.
    expect(r.stdout).toMatch(/xcluster: cluster default: vm-\d{3} ready, 3\/3 up after [\d.]+ s/)
    expect(await leftovers(home, ids())).toEqual([])
    attachmentsOfFirstRun = readdirSync(join(dir, 'attachments')).sort()
  })

  test('with XCLUSTER_KEEP=on-failure: the cluster answers xc rsh after Vitest exits, by the name it printed; xc stop leaves nothing', async () => {
    const ids = watchClusterIds(home)
    const { r, annotations } = await runFailing({ XCLUSTER_KEEP: 'on-failure' })
    expect(r.exitCode).toBe(1)
    const name = /cluster (keep-[0-9a-f]{6}) \([0-9a-f]{8}\) is kept running/.exec(r.stderr)?.[1]
    expect(name, r.stderr).toBeDefined()
    // Said again at the end of the run, with the failure (the first one has scrolled away by then).
    const kept = `cluster ${name} `
    expect(r.stderr.indexOf(kept)).toBeLessThan(r.stderr.indexOf('Failed Tests'))
    expect(r.stderr.lastIndexOf(kept), r.stderr).toBeGreaterThan(r.stderr.indexOf('Failed Tests'))
    expect(annotations.find((a) => a.type === 'xcluster keep')?.message).toContain(`xc stop --name=${name}`)
    // The second run's attachments replaced the first run's (same test, same names) rather than piling up.
    expect(readdirSync(join(dir, 'attachments')).sort()).toEqual(attachmentsOfFirstRun)
    const xc = (...args: string[]) => execa(process.execPath, [XC, ...args], { reject: false, env: { XCLUSTER_HOME: home } })
    const rsh = await xc('rsh', `--name=${name}`, '1', 'hostname')
    expect([rsh.exitCode, rsh.stdout], rsh.stderr).toEqual([0, 'vm-001'])
    const stop = await xc('stop', `--name=${name}`)
    expect(stop.exitCode, stop.stderr).toBe(0)
    expect(await leftovers(home, ids())).toEqual([])
    expect(processesNaming(join(home, 'run'))).toEqual([])
  })
})
