// Packages and caches that are not to be trusted, from a local flat apt
// repository (XCLUSTER_APT_SOURCES) of .debs written byte by byte
// (./helpers/deb-writer.ts), run as root as CI runs: a member named with
// `..`, a link that climbs out of the tree, a maintainer script naming a
// `..` path are refused with an UnsafePackageError naming the package and
// the path, and nothing is written outside the build; a link to /etc that a
// package ships is followed inside the layer only (what another package
// puts under it, and what a postinst names through it, land in the
// layer's /etc, the host's /etc is untouched); the build's sandbox, as
// root, can neither write /etc nor read /etc/shadow. A cached .deb that is
// not the one the lists name, a layer changed after its build or made by
// another home (an rsync'd cache), and lists not fetched here are each
// detected and replaced. apt drops to _apt for its fetches, and says when
// it cannot (a repository _apt cannot read).
import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClusterConfigError, UnsafePackageError } from '../src/errors.ts'
import { aptRoot, debFile } from '../src/packages/apt.ts'
import { updateLists } from '../src/packages/fetch.ts'
import { packageLayer } from '../src/packages/layer.ts'
import { trustedKeyrings, verifyLists } from '../src/packages/lists-verify.ts'
import { BUILD_ID, sandboxed } from '../src/packages/sandbox.ts'
import { flatRepo, type TarEntry, type TestDeb } from './helpers/deb-writer.ts'
import { privateHome } from './helpers/host.ts'

const isRoot = process.getuid?.() === 0
const tag = randomBytes(4).toString('hex')
/** Host paths the hostile packages aim at: none may exist after any build. */
const TARGETS = [`/tmp/xc-pwned-dotdot-${tag}`, `/tmp/xc-pwned-climb-${tag}`, `/tmp/xc-pwned-script-${tag}`, `/etc/xc-through-${tag}`, `/etc/xc-postinst-${tag}`, `/etc/xc-sandbox-${tag}`]

const dirs = (...names: string[]): TarEntry[] => names.map((n) => ({ name: `./${n}/`, type: 'dir' as const }))
const PACKAGES: TestDeb[] = [
  {
    name: 'hello',
    data: [...dirs('usr', 'usr/bin'), { name: './usr/bin/hello', type: 'file', text: '#!/bin/sh\necho hello\n', mode: 0o755 }],
    postinst: '#!/bin/sh\nset -e\nadduser --system --group hello\n',
  },
  { name: 'dotdot', data: [...dirs('usr'), { name: `./../../../../../tmp/xc-pwned-dotdot-${tag}`, type: 'file', text: 'pwned' }] },
  { name: 'climber', data: [...dirs('usr', 'usr/share'), { name: './usr/share/climber', type: 'symlink', target: '../../../../../../../../tmp' }] },
  { name: 'etclink', data: [{ name: './etc/', type: 'dir' }, { name: './etc/evil', type: 'symlink', target: '/etc' }] },
  {
    name: 'through',
    depends: 'etclink',
    data: [...dirs('etc', 'etc/evil'), { name: `./etc/evil/xc-through-${tag}`, type: 'file', text: 'through a link' }],
    postinst: `#!/bin/sh\ntouch /etc/evil/xc-postinst-${tag}\nchown root:adm /etc/evil/xc-through-${tag}\n`,
  },
  { name: 'scripted', data: dirs('usr'), postinst: `#!/bin/sh\nmkdir -p /etc/../../../tmp/xc-pwned-script-${tag}\n` },
]

let base = ''
let repo = ''
const saved = process.env.XCLUSTER_APT_SOURCES

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'xc-untrusted-'))
  repo = join(base, 'repo')
  mkdirSync(repo)
  flatRepo(repo, PACKAGES)
  writeFileSync(join(base, 'local.list'), `deb [trusted=yes] file:${repo} ./\n`)
  process.env.XCLUSTER_APT_SOURCES = join(base, 'local.list')
})

afterAll(() => {
  if (saved === undefined) delete process.env.XCLUSTER_APT_SOURCES
  else process.env.XCLUSTER_APT_SOURCES = saved
  if (base) rmSync(base, { recursive: true, force: true })
})

const freshHome = (): string => mkdtempSync(join(base, 'home-'))
const untouched = (): string[] => TARGETS.filter((t) => existsSync(t))
async function refused(p: Promise<unknown>): Promise<UnsafePackageError> {
  const e = await p.then(() => undefined, (err: unknown) => err)
  expect(e).toBeInstanceOf(UnsafePackageError)
  expect(e).toBeInstanceOf(ClusterConfigError)
  return e as UnsafePackageError
}
const debugfsCat = async (img: string, p: string): Promise<string> => (await execa('debugfs', ['-R', `cat ${p}`, img], { reject: false, stripFinalNewline: false })).stdout
const debugfsStat = async (img: string, p: string): Promise<string> => (await execa('debugfs', ['-R', `stat ${p}`, img], { reject: false })).stdout

describe('hostile packages', () => {
  it('a member named with `..` is refused, naming the package and the member; nothing is written outside', async () => {
    const home = freshHome()
    const e = await refused(packageLayer(home, ['dotdot']))
    expect(e.problems).toEqual([expect.stringMatching(new RegExp(`^package dotdot 1\\.0: its archive was refused .*xc-pwned-dotdot-${tag}: Member name contains '\\.\\.'`))])
    expect(untouched()).toEqual([])
    expect(readdirSync(join(home, 'packages', 'layers'))).toEqual([])
  })

  it('a link that climbs above the root is refused; a package shipping one with good ones refuses the whole set', async () => {
    const e = await refused(packageLayer(freshHome(), ['hello', 'climber']))
    expect(e.problems).toEqual(['package climber: the link /usr/share/climber -> ../../../../../../../../tmp points outside the layer'])
    expect(untouched()).toEqual([])
  })

  it('a maintainer script naming a `..` path is refused', async () => {
    const e = await refused(packageLayer(freshHome(), ['scripted']))
    expect(e.problems).toEqual([`a maintainer script's directory /etc/../../../tmp/xc-pwned-script-${tag}: a directory of a maintainer script "/etc/../../../tmp/xc-pwned-script-${tag}" has a \`..\` component`])
    expect(untouched()).toEqual([])
  })

  it("a link to /etc is followed inside the layer only: another package's file and the postinst's land in the layer's /etc, the host's is untouched", async () => {
    const layer = await packageLayer(freshHome(), ['through'])
    expect(untouched()).toEqual([])
    expect(await debugfsCat(layer.path, `/etc/xc-through-${tag}`)).toBe('through a link')
    expect(await debugfsStat(layer.path, `/etc/xc-postinst-${tag}`)).toMatch(/Type: regular/)
    // chown root:adm through the link: the layer's file has adm (4), nothing on the host.
    expect(await debugfsStat(layer.path, `/etc/xc-through-${tag}`)).toMatch(/User:\s+0\s+Group:\s+4\s/)
    expect(await debugfsStat(layer.path, '/etc/evil')).toMatch(/Type: symlink/)
  })

  it.runIf(isRoot)("as root, the build's sandbox has no root powers over the host: /etc is not writable, /etc/shadow not readable", async () => {
    const dir = mkdtempSync(join(base, 'sandbox-'))
    chmodSync(dir, 0o700)
    await execa('chown', [`${BUILD_ID}:${BUILD_ID}`, dir])
    const out = await sandboxed(dir, `id -u; touch /etc/xc-sandbox-${tag} 2>&1 || echo no-etc; head -c1 /etc/shadow 2>&1 >/dev/null || echo no-shadow; touch own && chown 33:4 own && stat -c %u:%g own`)
    expect(out.split('\n')).toEqual(['0', expect.stringContaining('Permission denied'), 'no-etc', expect.stringContaining('Permission denied'), 'no-shadow', '33:4'])
    // Inside it is root with its own ids; on the host its files are BUILD_ID's range.
    expect((await execa('stat', ['-c', '%u:%g', join(dir, 'own')])).stdout).toBe(`${BUILD_ID + 33}:${BUILD_ID + 4}`)
    expect(untouched()).toEqual([])
  })
})

describe('a cache that is not to be trusted', () => {
  let home = ''
  let lines: string[] = []
  const log = (l: string): void => void lines.push(l)
  beforeAll(() => {
    home = freshHome()
  })

  it('a layer changed after its build is detected on its next use and built again', async () => {
    const first = await packageLayer(home, ['hello'], { log })
    const fd = openSync(first.path, 'r+')
    writeSync(fd, Buffer.from('tampered'), 0, 8, 4096)
    closeSync(fd)
    lines = []
    const again = await packageLayer(home, ['hello'], { log })
    expect(again.cached).toBe(false)
    expect(lines.join('\n')).toContain(`layer ${first.manifest.key} has changed since it was built`)
    expect(await debugfsCat(again.path, '/usr/bin/hello')).toBe('#!/bin/sh\necho hello\n')
    // Used again untouched: a cache hit, without hashing the image again (its fingerprint is the one recorded).
    expect((await packageLayer(home, ['hello'])).cached).toBe(true)
  })

  it('a cached .deb that is not the one the lists name is fetched again before a build', async () => {
    const root = aptRoot(home)
    const deb = join(root.debs, debFile({ name: 'hello', version: '1.0', arch: 'amd64' }))
    writeFileSync(deb, readFileSync(join(repo, 'dotdot_1.0_amd64.deb')))
    const key = (await packageLayer(home, ['hello'])).manifest.key
    rmSync(join(home, 'packages', 'layers', `${key}.ext4`))
    lines = []
    const rebuilt = await packageLayer(home, ['hello'], { log })
    expect(lines).toContain(`packages: the cached ${debFile({ name: 'hello', version: '1.0', arch: 'amd64' })} had not the sha256 the lists give: fetched again`)
    expect(readFileSync(deb)).toEqual(readFileSync(join(repo, 'hello_1.0_amd64.deb')))
    expect(await debugfsCat(rebuilt.path, '/usr/bin/hello')).toBe('#!/bin/sh\necho hello\n')
  })

  it("a cache from another home (another key: an rsync'd copy) is not used: its lists are fetched again, its layers built again", async () => {
    writeFileSync(join(home, '.packages-key'), randomBytes(32).toString('hex') + '\n')
    lines = []
    const layer = await packageLayer(home, ['hello'], { log })
    expect(layer.cached).toBe(false)
    expect(lines.join('\n')).toMatch(/was not made by this home \(copied in\?\)/)
    // The set's record was for the old layer: the lists come next, then the build.
    expect(lines.join('\n')).toMatch(/the package lists in .* were not fetched by this home \(copied in\?\): fetching them again/)
    lines = []
    expect((await packageLayer(home, ['hello'], { log })).cached).toBe(true)
    expect(lines).toEqual([])
  })
})

describe.runIf(isRoot)('apt drops to _apt for its fetches', () => {
  it('from a repository _apt can read, with no word of fetching as root; from one it cannot, saying so', async () => {
    // The test's base is 0700: _apt cannot read the repository in it.
    const closed: string[] = []
    await packageLayer(freshHome(), ['hello'], { log: (l) => closed.push(l) })
    expect(closed.join('\n')).toContain(`fetching as root: _apt cannot read ${repo}`)
    chmodSync(base, 0o755)
    try {
      const open: string[] = []
      await packageLayer(freshHome(), ['hello'], { log: (l) => open.push(l) })
      expect(open.join('\n')).not.toMatch(/fetching as root|unsandboxed/)
      expect(aptRoot(freshHome()).options).toContain('APT::Sandbox::User=_apt')
    } finally {
      chmodSync(base, 0o700)
    }
  })
})

describe('refused before anything starts', () => {
  it('xc start with a hostile package: exit 1, the UnsafePackageError with the VM, no cluster made', async () => {
    const { home, remove } = privateHome()
    try {
      const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
      const r = await execa(process.execPath, [XC, 'start', '--name=hostile', '--nvm=1', '--nrouters=0', '--packages=dotdot'], { reject: false, env: { XCLUSTER_HOME: home, XCLUSTER_APT_SOURCES: join(base, 'local.list') } })
      expect(r.exitCode).toBe(1)
      expect(r.stderr).toMatch(/^xc start: Packages refused as unsafe \(1 problem; nothing of them was written\):$/m)
      expect(r.stderr).toMatch(new RegExp(`package dotdot 1\\.0: its archive was refused .*Member name contains '\\.\\.'.* \\(for vm-001\\)`))
      expect(existsSync(join(home, 'run')) ? readdirSync(join(home, 'run')) : []).toEqual([])
      expect(untouched()).toEqual([])
    } finally {
      await remove()
    }
  })
})

describe('package lists copied in, without network', () => {
  it("are checked against their signed InRelease and the sources' keyrings: Debian's pass, a changed list or InRelease does not", async () => {
    // Debian's own lists, fetched (as _apt, as root) into a home with the host's sources.
    const home = freshHome()
    const root = aptRoot(home, '')
    const fetched = await updateLists(root, Buffer.alloc(32))
    expect(fetched.problems).toEqual([])
    const lists = join(root.dir, 'lists')
    const keyrings = trustedKeyrings(root.sources)
    expect(await verifyLists(lists, keyrings)).toEqual([])
    expect(await verifyLists(lists, [])).toEqual([expect.stringMatching(/^no keyring to check the lists against/)])
    const copy = join(base, 'lists-copy')
    cpSync(lists, copy, { recursive: true })
    const main = readdirSync(copy).find((f) => /_bookworm_main_binary-amd64_Packages/.test(f))!
    const signed = readdirSync(copy).find((f) => /_bookworm_InRelease$/.test(f))!
    const updates = readdirSync(copy).find((f) => /_bookworm-updates_InRelease$/.test(f))!
    // A package's SHA256 in the main list changed (what a planted .deb would need): not the hash the signed InRelease gives.
    const text = (await execa('lz4', ['-dc', join(copy, main)], { maxBuffer: 1 << 30 })).stdout.replace(/^SHA256: [0-9a-f]{4}/m, 'SHA256: 0000')
    writeFileSync(join(copy, 'plain'), text)
    rmSync(join(copy, main))
    await execa('lz4', ['-q', join(copy, 'plain'), join(copy, main)])
    rmSync(join(copy, 'plain'))
    // An InRelease changed: its signature fails, and the lists it covered are covered by nothing.
    writeFileSync(join(copy, updates), readFileSync(join(copy, updates), 'utf8').replace(/^Date: .*$/m, 'Date: Thu, 01 Jan 2026 00:00:00 UTC'))
    const problems = await verifyLists(copy, keyrings)
    expect(problems).toEqual(expect.arrayContaining([
      `${main}: its sha256 is not the one the signed ${signed} gives`,
      expect.stringMatching(new RegExp(`^${updates}: no valid signature of a key the sources trust \\(gpgv: .*BAD signature`)),
      expect.stringMatching(/_bookworm-updates_main_binary-amd64_Packages(\.lz4)?: no signed InRelease covers it$/),
    ]))
    expect(problems).toHaveLength(3)
  })
})
