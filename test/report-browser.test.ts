// Failures a person can look at: a deliberately failing experiment (a real
// cluster, through the `cluster` fixture) is run in a Vitest of its own with
// the HTML and JUnit reporters; its HTML report is opened in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core), where the failing
// test must list the fixture's attachments and render the topology SVG. The
// page's screenshot is kept in test-results/report-browser/ and attached to
// this test, so it is an artifact of the run.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa, type Result } from 'execa'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { serveDirectory, type StaticServer } from './helpers/report-server.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CHROMIUM = '/usr/bin/chromium'
/** The experiment, its config and both reports; removed after the file. */
const dir = join(ROOT, 'test-results', `report-browser-run-${process.pid}`)
/** Kept: the screenshot of the report. */
const shotDir = join(ROOT, 'test-results', 'report-browser')
const screenshot = join(shotDir, 'screenshot.png')

const CLUSTER = 'report-demo'
const TEST_NAME = 'fails on purpose, to look at the report'
const EXPERIMENT = `import { test, expect } from 'xcluster/vitest'
test.override('clusterOptions', { scope: 'file' }, { name: '${CLUSTER}', nvm: 1, nrouters: 0 })
test('${TEST_NAME}', async ({ cluster }) => { expect((await cluster.vm(1).exec('hostname')).stdout).toBe('not-this') })
`

let run: Result<{ reject: false; all: true }> | undefined
let server: StaticServer | undefined
let browser: Browser | undefined

beforeAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'report-demo.test.ts'), EXPERIMENT)
  // As test/readme.test.ts: the package's two entry points, absolute; this file only; no timeouts of ours.
  // The attachments (those given by path) go to a directory of the run; the HTML reporter copies it to html/data.
  const src = (p: string): string => resolve(ROOT, 'src', p)
  writeFileSync(
    join(dir, 'vitest.config.mjs'),
    `export default ${JSON.stringify({
      resolve: { alias: [{ find: '^xcluster/vitest$', replacement: src('vitest/index.ts') }, { find: '^xcluster$', replacement: src('index.ts') }] },
      test: { include: ['report-demo.test.ts'], pool: 'forks', maxWorkers: 1, attachmentsDir: join(dir, 'attachments') },
    })}\n`.replace(/"find":"(\^[^"]+\$)"/g, (_m, re: string) => `"find":new RegExp(${JSON.stringify(re)})`),
  )
  // Two reporters, each with its own output (cac's dot notation: --outputFile.<reporter>=...).
  run = await execa(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run',
      '--config', join(dir, 'vitest.config.mjs'), '--root', dir,
      '--reporter=html', `--outputFile.html=${join(dir, 'html', 'index.html')}`,
      '--reporter=junit', `--outputFile.junit=${join(dir, 'junit.xml')}`,
    ],
    // XCLUSTER_KEEP of the caller's environment must not keep the cluster of a test that fails on purpose.
    { cwd: ROOT, reject: false, all: true, env: { NO_COLOR: '1', XCLUSTER_KEEP: '' }, timeout: 270_000 },
  )
}, 300_000)

afterAll(async () => {
  await browser?.close().catch(() => undefined)
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('the report of a failing experiment', () => {
  test('the experiment fails as it should (exit code 1), and the HTML and JUnit reports are written', () => {
    expect(run, 'the experiment ran').toBeDefined()
    expect(run!.timedOut, run!.all).toBe(false)
    expect(run!.exitCode, run!.all).toBe(1)
    expect(existsSync(join(dir, 'html', 'index.html')), run!.all).toBe(true)
    expect(existsSync(join(dir, 'html', 'html.meta.json.gz')), run!.all).toBe(true)
    expect(existsSync(join(dir, 'junit.xml')), run!.all).toBe(true)
  })

  test('the JUnit report names the attachments of the failing test (as properties: type and message, no content)', () => {
    const xml = readFileSync(join(dir, 'junit.xml'), 'utf8')
    const testcase = new RegExp(`<testcase [^>]*name="${TEST_NAME.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>([\\s\\S]*?)</testcase>`).exec(xml)?.[1]
    expect(testcase, xml).toBeDefined()
    expect(testcase).toContain('<failure')
    expect(testcase).toContain('<property name="xcluster" value="console of vm-001">')
    expect(testcase).toContain(`<property name="xcluster" value="topology of cluster ${CLUSTER}">`)
  })

  test('in headless Chromium: the failing test lists its attachments and the topology SVG renders; the screenshot is kept', async ({ annotate }) => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: Debian's chromium package (scripts/system-packages.sh)`).toBe(true)
    server = await serveDirectory(join(dir, 'html'))
    // --no-sandbox: Chromium refuses to start as root with its sandbox, and
    // a container often lacks the user namespaces it would need otherwise.
    // What it opens is our own report on loopback; every other request is aborted below.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'], timeout: 60_000 })
    const page = await browser.newPage({ viewport: { width: 1400, height: 1400 } })
    page.setDefaultTimeout(30_000)
    page.setDefaultNavigationTimeout(30_000)
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    // Only the report's own server: the UI's page asks for Google Fonts, which this machine cannot (and need not) reach.
    const origin = server.url
    await page.route('**/*', (route) => (route.request().url().startsWith(origin) ? route.continue() : route.abort()))

    await page.goto(origin)
    // The explorer lists the file and its test; the test's view has its errors and its annotations.
    const item = page.locator(`[data-testid="explorer-item"][aria-label="${TEST_NAME}"]`)
    await item.click()
    await page.getByRole('heading', { name: 'Test Annotations' }).waitFor()
    const notes = page.getByRole('note')
    const note = (message: RegExp) => notes.filter({ has: page.getByTestId('task-error').filter({ hasText: message }) })

    const listed = await notes.getByTestId('task-error').allInnerTexts()
    const context = `annotations listed: ${JSON.stringify(listed)}; page errors: ${JSON.stringify(errors)}; requests: ${server.requests.join(', ')}`

    // The console of the one VM: listed, with a download link that gives its text.
    const consoleNote = note(/^console of vm-001\b/)
    expect(await consoleNote.count(), context).toBe(1)
    const download = consoleNote.locator('a[download]')
    expect(await download.count(), context).toBe(1)
    const consoleText = await download.evaluate(async (a: HTMLAnchorElement) => (await fetch(a.href)).text())
    // The whole log: it has the boot's last phase marker, which the VM's init prints once it is up.
    expect(consoleText, `the console attachment; ${context}`).toMatch(/xc-phase: ready/)

    // The topology picture: listed, as an image that the browser decodes and lays out with a size.
    const topoNote = note(new RegExp(`^topology of cluster ${CLUSTER}\\b`))
    expect(await topoNote.count(), context).toBe(1)
    const img = topoNote.locator('img')
    await img.waitFor({ state: 'visible' })
    const drawn = await img.evaluate(async (el: HTMLImageElement) => {
      const decoded = await Promise.race([
        el.decode().then(() => true, () => false),
        new Promise<boolean>((ok) => setTimeout(() => ok(false), 10_000)),
      ])
      const box = el.getBoundingClientRect()
      // A body attachment is a data: URL; one given by path is a copy under ./data/ that keeps the file's extension.
      const svg = el.src.startsWith('data:image/svg+xml') || new URL(el.src).pathname.endsWith('.svg')
      return { decoded, svg, src: el.src.slice(0, 60), naturalWidth: el.naturalWidth, naturalHeight: el.naturalHeight, width: box.width, height: box.height }
    })
    expect(drawn, context).toMatchObject({ svg: true })
    expect(drawn, context).toMatchObject({ decoded: true })
    expect(drawn.naturalWidth, JSON.stringify(drawn)).toBeGreaterThan(0)
    expect(drawn.width, JSON.stringify(drawn)).toBeGreaterThan(0)
    expect(drawn.height, JSON.stringify(drawn)).toBeGreaterThan(0)
    expect(errors, 'no error in the page').toEqual([])

    mkdirSync(shotDir, { recursive: true })
    await page.screenshot({ path: screenshot, fullPage: true, timeout: 30_000 })
    expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe('PNG')
    await annotate('screenshot of the HTML report', 'xcluster', { path: screenshot, contentType: 'image/png' })
  }, 180_000)
})
