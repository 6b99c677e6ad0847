// packageLayer against real apt, offline: a flat apt repository in a
// temporary directory (a hand-written Packages file, no Release file, .deb
// files built here with dpkg-deb) that XCLUSTER_APT_SOURCES points apt at.
// Every way a package set can be wrong (a name apt does not know, two
// packages that conflict, a .deb the repository lost) must be one
// ClusterConfigError that names it, and leave no layer and no leftovers
// behind; a good set must give an ext4 layer with the package's files and
// the system user its postinst would have made, and the same set again is
// a cache hit. No VM boots, and apt works in a private state under the
// test's home (the host's own apt state is not read or written).
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClusterConfigError } from '../src/errors.ts'
import { packageLayer } from '../src/packages/layer.ts'

/** A package of the test repository: control fields and the files of its tree. */
interface TestPackage {
  name: string
  control?: string
  files?: Record<string, string>
  postinst?: string
}

const PACKAGES: TestPackage[] = [
  {
    name: 'hello',
    control: 'Depends: libhello\n',
    files: { 'usr/bin/hello': '#!/bin/sh\necho hello from the layer\n', 'usr/share/doc/hello/copyright': 'dropped from layers\n' },
    postinst: '#!/bin/sh\nset -e\nif [ "$1" = configure ] && ! getent passwd hello >/dev/null; then\n\tadduser --system --group hello\nfi\n',
  },
  // In /lib, as an unmerged package has it: the layer has it in /usr/lib.
  { name: 'libhello', files: { 'lib/x86_64-linux-gnu/libhello.so.1': 'not really ELF\n' } },
  { name: 'conflicta', control: 'Conflicts: conflictb\n', files: { 'usr/bin/conflicta': '#!/bin/sh\n' } },
  { name: 'conflictb', files: { 'usr/bin/conflictb': '#!/bin/sh\n' } },
  // Listed in Packages, its .deb deleted from the repository.
  { name: 'ghost', files: { 'usr/bin/ghost': '#!/bin/sh\n' } },
]

/** A Packages stanza: control fields as dpkg-deb built them, and where the .deb is. */
function stanza(p: TestPackage, deb: Buffer): string {
  return [
    `Package: ${p.name}`,
    'Version: 1.0',
    'Architecture: amd64',
    'Maintainer: xcluster tests <tests@example.org>',
    `Description: test package ${p.name}`,
    ...(p.control ?? '').split('\n').filter(Boolean),
    `Filename: ./${p.name}_1.0_amd64.deb`,
    `Size: ${deb.length}`,
    `SHA256: ${createHash('sha256').update(deb).digest('hex')}`,
    '',
  ].join('\n')
}

let base = ''
let sources = ''
const savedSources = process.env.XCLUSTER_APT_SOURCES

/** The host's apt and dpkg state, by name, size and time: what apt-get of this test must leave as it is. */
function hostAptState(): string[] {
  const out: string[] = []
  for (const d of ['/var/lib/apt/lists', '/var/lib/apt', '/var/cache/apt', '/var/lib/dpkg']) {
    if (!existsSync(d)) continue
    for (const f of readdirSync(d).sort()) {
      const st = statSync(join(d, f))
      if (st.isFile()) out.push(`${d}/${f} ${st.size} ${st.mtimeMs}`)
    }
  }
  return out
}
let hostBefore: string[] = []

beforeAll(async () => {
  hostBefore = hostAptState()
  base = mkdtempSync(join(tmpdir(), 'xc-pkgs-'))
  chmodSync(base, 0o700)
  const repo = join(base, 'repo')
  mkdirSync(repo)
  const stanzas: string[] = []
  for (const p of PACKAGES) {
    const tree = join(base, 'build', p.name)
    mkdirSync(join(tree, 'DEBIAN'), { recursive: true })
    writeFileSync(join(tree, 'DEBIAN', 'control'), `Package: ${p.name}\nVersion: 1.0\nArchitecture: amd64\nMaintainer: xcluster tests <tests@example.org>\nDescription: test package ${p.name}\n${p.control ?? ''}`)
    if (p.postinst) writeFileSync(join(tree, 'DEBIAN', 'postinst'), p.postinst, { mode: 0o755 })
    for (const [rel, text] of Object.entries(p.files ?? {})) {
      mkdirSync(join(tree, rel, '..'), { recursive: true })
      writeFileSync(join(tree, rel), text, { mode: rel.includes('/bin/') ? 0o755 : 0o644 })
    }
    const deb = join(repo, `${p.name}_1.0_amd64.deb`)
    await execa('dpkg-deb', ['--root-owner-group', '--build', tree, deb])
    stanzas.push(stanza(p, readFileSync(deb)))
  }
  writeFileSync(join(repo, 'Packages'), stanzas.join('\n'))
  rmSync(join(repo, 'ghost_1.0_amd64.deb'))
  sources = join(base, 'local.list')
  writeFileSync(sources, `deb [trusted=yes] file:${repo} ./\n`)
  process.env.XCLUSTER_APT_SOURCES = sources
}, 60_000)

afterAll(() => {
  if (savedSources === undefined) delete process.env.XCLUSTER_APT_SOURCES
  else process.env.XCLUSTER_APT_SOURCES = savedSources
  if (base) rmSync(base, { recursive: true, force: true })
})

/** A fresh XCLUSTER home for one test. */
const freshHome = (): string => mkdtempSync(join(base, 'home-'))

/** The error `p` rejects with, which must be a ClusterConfigError. */
async function configError(p: Promise<unknown>): Promise<ClusterConfigError> {
  const e = await p.then(() => undefined, (err: unknown) => err)
  expect(e).toBeInstanceOf(ClusterConfigError)
  return e as ClusterConfigError
}

/** What is under home/packages besides the apt state's lists and the lock file (flock's, which stays: dir-lock.ts): layers, memos, partial downloads. */
function cacheEntries(home: string): string[] {
  const dir = join(home, 'packages')
  const out: string[] = []
  for (const f of readdirSync(join(dir, 'layers'))) out.push(`layers/${f}`)
  for (const f of readdirSync(join(dir, 'sets'))) out.push(`sets/${f}`)
  for (const apt of readdirSync(dir).filter((d) => d.startsWith('apt-'))) {
    for (const f of readdirSync(join(dir, apt, 'debs'))) if (f.startsWith('.')) out.push(`${apt}/debs/${f}`)
  }
  return out
}

/** Run debugfs's request `cmd` on the ext4 image `img`. */
async function debugfs(img: string, cmd: string): Promise<string> {
  const r = await execa('debugfs', ['-R', cmd, img], { reject: false, stripFinalNewline: false })
  return r.stdout
}

describe('packageLayer: a set that cannot be had is one ClusterConfigError, and leaves nothing', () => {
  it('names every package apt does not know, and takes a name as a name (no regex)', async () => {
    const home = freshHome()
    const e = await configError(packageLayer(home, ['nosuchpkg', 'hello', 'otherpkg']))
    expect(e.problems).toHaveLength(2)
    expect(e.problems.find((p) => p.includes('nosuchpkg')), e.message).toMatch(/^package nosuchpkg: not in the Debian archive/)
    expect(e.problems.find((p) => p.includes('otherpkg')), e.message).toMatch(/^package otherpkg: not in the Debian archive/)
    expect(e.message).toMatch(/2 problems/)
    // `hell.` is a valid Debian name; as an apt regex it would match hello.
    const re = await configError(packageLayer(home, ['hell.']))
    expect(re.problems).toEqual([expect.stringMatching(/^package hell\.: not in the Debian archive/)])
    expect(cacheEntries(home)).toEqual([])
  })

  it('gives two packages that conflict as one problem naming the conflict', async () => {
    const home = freshHome()
    const e = await configError(packageLayer(home, ['conflicta', 'conflictb']))
    expect(e.problems).toEqual(['packages conflicta, conflictb cannot be installed together: conflicta conflicts conflictb but 1.0 is to be installed'])
    expect(cacheEntries(home)).toEqual([])
  })

  it('names a package whose .deb the repository does not have: download failed', async () => {
    const home = freshHome()
    const e = await configError(packageLayer(home, ['ghost']))
    expect(e.problems).toHaveLength(1)
    expect(e.problems[0]).toMatch(/^package ghost 1\.0: download failed: .*ghost_1\.0_amd64\.deb.*File not found/)
    expect(cacheEntries(home)).toEqual([])
  })
})

describe('packageLayer: a good set', () => {
  let home = ''
  beforeAll(() => {
    home = freshHome()
  })

  it('is an ext4 layer with the files, the merged /lib and the postinst user; again, a cache hit', async () => {
    const lines: string[] = []
    const t0 = performance.now()
    const first = await packageLayer(home, ['hello'], { log: (l) => lines.push(l) })
    const buildMs = performance.now() - t0
    expect(first.cached).toBe(false)
    expect(lines.some((l) => l.includes('building the layer of 2 packages')), lines.join('\n')).toBe(true)

    const layers = join(home, 'packages', 'layers')
    expect(first.path).toBe(join(layers, `${first.manifest.key}.ext4`))
    expect(statSync(first.path).size).toBe(first.manifest.bytes)
    // The image, its sealed manifest, the fingerprint of its last hash and its last use.
    expect(readdirSync(layers).sort()).toEqual(['ext4', 'json', 'seen', 'used'].map((x) => `${first.manifest.key}.${x}`))
    expect(readdirSync(layers).filter((f) => f.includes('.tmp-') || f.includes('.build-'))).toEqual([])
    const manifest = JSON.parse(readFileSync(join(layers, `${first.manifest.key}.json`), 'utf8'))
    expect(manifest.names).toEqual(['hello'])
    expect(manifest.packages.map((p: { name: string }) => p.name).sort()).toEqual(['hello', 'libhello'])
    expect(manifest.users).toContain('hello')

    // The layer's /etc/passwd and /etc/group: the base image's accounts, then the postinst's user.
    expect(await debugfs(first.path, 'cat /etc/passwd')).toMatch(/^root:x:0:0:.*\nhello:x:200:200::\/nonexistent:\/usr\/sbin\/nologin\n$/s)
    expect(await debugfs(first.path, 'cat /etc/group')).toMatch(/^root:x:0:\n.*hello:x:200:\n$/s)
    expect(await debugfs(first.path, 'cat /.xc/packages')).toBe('libhello 1.0 amd64\nhello 1.0 amd64\n')
    expect(await debugfs(first.path, 'ls -l /usr/bin')).toMatch(/100755 \(1\)\s+0\s+0\s+\d+.* hello\s*$/m)
    expect(await debugfs(first.path, 'cat /usr/bin/hello')).toBe('#!/bin/sh\necho hello from the layer\n')
    expect(await debugfs(first.path, 'ls /usr/lib/x86_64-linux-gnu')).toContain('libhello.so.1')
    expect(await debugfs(first.path, 'ls /')).not.toMatch(/\blib\b/)
    expect(await debugfs(first.path, 'ls /usr/share')).not.toContain('doc')

    // A cache hit calls no apt at all: with apt-get off PATH (it is in /usr/bin) it is still served.
    const path = process.env.PATH
    process.env.PATH = mkdtempSync(join(tmpdir(), 'xc-nopath-'))
    const t1 = performance.now()
    let again
    try {
      again = await packageLayer(home, ['hello'])
    } finally {
      rmSync(process.env.PATH, { recursive: true, force: true })
      process.env.PATH = path
    }
    const hitMs = performance.now() - t1
    // Timings are printed, never asserted (the bench measures them).
    console.log(`package layer: first build ${buildMs.toFixed(0)} ms, cache hit ${hitMs.toFixed(1)} ms`)
    expect(again.cached).toBe(true)
    expect(again.path).toBe(first.path)
    expect(again.manifest).toEqual(first.manifest)
  })

  it('a failed set next to it leaves the good layer alone and adds nothing', async () => {
    const before = readdirSync(join(home, 'packages', 'layers')).sort()
    expect(before).toHaveLength(4)
    const e = await configError(packageLayer(home, ['hello', 'ghost']))
    expect(e.problems).toEqual([expect.stringMatching(/^package ghost 1\.0: download failed/)])
    expect(cacheEntries(home).filter((f) => !f.startsWith('sets/')).sort()).toEqual(before.map((f) => `layers/${f}`))
    expect(readdirSync(join(home, 'packages', 'sets'))).toHaveLength(1)
  })

  it("used the private apt state under the home, with the local repository's lists, and not the host's", () => {
    const dir = join(home, 'packages')
    const apt = readdirSync(dir).filter((d) => d.startsWith('apt-'))
    expect(apt).toHaveLength(1)
    expect(readdirSync(join(dir, apt[0], 'lists')).some((f) => f.includes('repo') && f.includes('Packages'))).toBe(true)
    expect(readdirSync(join(dir, apt[0], 'debs')).sort()).toEqual(['hello_1.0_amd64.deb', 'libhello_1.0_amd64.deb'])
    expect(readFileSync(join(dir, apt[0], 'status'), 'utf8')).toBe('')
    expect(hostAptState()).toEqual(hostBefore)
  })
})

describe('xc packages list, rm and prune', () => {
  const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
  const xc = (home: string, ...args: string[]) => execa(process.execPath, [XC, 'packages', ...args], { reject: false, stripFinalNewline: false, env: { XCLUSTER_HOME: home, XCLUSTER_APT_SOURCES: sources } })

  it('lists the layers with size and last use (most recent first), removes one by a prefix of its key, prunes the least recently used', async () => {
    const home = freshHome()
    expect((await xc(home, 'list')).stdout).toBe('no package layers\n')
    const a = await packageLayer(home, ['hello'])
    const b = await packageLayer(home, ['libhello'])
    await packageLayer(home, ['hello'])
    const list = await xc(home, 'list')
    expect(list.exitCode, list.stderr).toBe(0)
    expect(list.stdout).toMatch(new RegExp(`^${a.manifest.key}  hello  2 packages  \\d+ MiB  used \\S+Z\\n${b.manifest.key}  libhello  1 packages  \\d+ MiB  used \\S+Z\\n$`))
    const json = JSON.parse((await xc(home, 'list', '--json')).stdout) as Array<{ key: string; bytes: number; usedAt: string }>
    expect(json.map((l) => l.key)).toEqual([a.manifest.key, b.manifest.key])
    expect(json[0].bytes).toBe(a.manifest.bytes)
    // rm: an unknown key is exit 1 and removes nothing; a prefix of one removes its files and its sets.
    const none = await xc(home, 'rm', 'ffffffff')
    expect([none.exitCode, none.stderr]).toEqual([1, 'xc packages rm: no single layer with key ffffffff (xc packages list)\n'])
    const rm = await xc(home, 'rm', b.manifest.key.slice(0, 6))
    expect([rm.exitCode, rm.stdout]).toEqual([0, `removed ${b.manifest.key}\n`])
    expect(readdirSync(join(home, 'packages', 'layers')).filter((f) => f.startsWith(b.manifest.key))).toEqual([])
    // prune keeps what fits the bound, most recently used first; 0 removes all.
    expect((await xc(home, 'prune', `--max-mb=${Math.ceil(a.manifest.bytes / 1048576)}`)).stdout).toBe('nothing to prune\n')
    expect((await xc(home, 'prune', '--max-mb=0')).stdout).toBe(`removed ${a.manifest.key}\n`)
    expect((await xc(home, 'list')).stdout).toBe('no package layers\n')
    const bad = await xc(home, 'prune', '--max-mb=-1')
    expect(bad.exitCode).toBe(2)
  })
})
