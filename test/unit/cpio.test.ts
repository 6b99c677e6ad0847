import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { execa } from 'execa'
import { afterAll, describe, expect, it } from 'vitest'
import { cpioArchive, cpioGz, parentDirs, type CpioEntry } from '../../src/image/cpio.ts'

const BUSYBOX = '/bin/busybox'
const root = mkdtempSync(join(tmpdir(), 'xc-unit-cpio-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

interface Parsed {
  offset: number
  ino: number
  mode: number
  nlink: number
  size: number
  rdevMajor: number
  rdevMinor: number
  name: string
  data: Buffer
}

/** An independent newc reader: every header, name and data, checking the 4-byte alignment. */
function parseNewc(buf: Buffer): Parsed[] {
  const out: Parsed[] = []
  let off = 0
  for (;;) {
    expect(off % 4).toBe(0)
    const head = buf.subarray(off, off + 110).toString('ascii')
    expect(head.slice(0, 6)).toBe('070701')
    const field = (i: number): number => parseInt(head.slice(6 + i * 8, 14 + i * 8), 16)
    const nameSize = field(11)
    const name = buf.subarray(off + 110, off + 110 + nameSize - 1).toString()
    expect(buf[off + 110 + nameSize - 1]).toBe(0)
    let p = off + 110 + nameSize
    p += (4 - (p % 4)) % 4
    const size = field(6)
    const data = buf.subarray(p, p + size)
    out.push({ offset: off, ino: field(0), mode: field(1), nlink: field(4), size, rdevMajor: field(9), rdevMinor: field(10), name, data })
    p += size
    p += (4 - (p % 4)) % 4
    off = p
    if (name === 'TRAILER!!!') break
  }
  expect(off).toBe(buf.length)
  return out
}

const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

const entries: CpioEntry[] = [
  { type: 'dir', path: 'etc' },
  { type: 'file', path: '/etc/hello', data: 'hello\n' },
  { type: 'file', path: 'etc/one', data: 'a' },
  { type: 'file', path: 'etc/two', data: 'ab' },
  { type: 'file', path: 'etc/three', data: 'abc' },
  { type: 'file', path: 'etc/five', data: 'abcde' },
  { type: 'file', path: 'etc/empty', data: '' },
  { type: 'dir', path: 'bin', mode: 0o700 },
  { type: 'file', path: 'bin/run.sh', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
  { type: 'file', path: 'bin/secret', data: binary, mode: 0o600 },
  { type: 'symlink', path: 'bin/sh-link', target: 'run.sh' },
  { type: 'symlink', path: 'abs-link', target: '/etc/hello' },
]

describe('cpioArchive', () => {
  it('writes exact newc bytes for one small file', () => {
    const buf = cpioArchive([{ type: 'file', path: 'a', data: 'xy' }])
    const z = '00000000'
    const fileHead = '070701' + '00000001' + '000081a4' + z + z + '00000001' + z + '00000002' + z + z + z + z + '00000002' + z
    const trailerHead = '070701' + '00000002' + z + z + z + '00000001' + z + z + z + z + z + z + '0000000b' + z
    const expected = Buffer.concat([
      Buffer.from(fileHead, 'ascii'),
      Buffer.from('a\0'), // 110 + 2 = 112: aligned
      Buffer.from('xy\0\0'),
      Buffer.from(trailerHead, 'ascii'),
      Buffer.from('TRAILER!!!\0\0\0\0'), // 110 + 11 = 121, padded to 124
    ])
    expect(buf.toString('hex')).toBe(expected.toString('hex'))
    expect(buf.length).toBe(240)
  })

  it('writes every entry with its mode, size and name, 4-byte aligned, then the trailer', () => {
    const buf = cpioArchive([...entries, { type: 'chardev', path: 'dev/console', major: 5, minor: 1 }])
    expect(buf.subarray(0, 6).toString()).toBe('070701')
    expect(buf.length % 4).toBe(0)
    const parsed = parseNewc(buf)
    expect(parsed.map((e) => [e.name, e.mode.toString(8), e.size])).toEqual([
      ['etc', '40755', 0],
      ['etc/hello', '100644', 6],
      ['etc/one', '100644', 1],
      ['etc/two', '100644', 2],
      ['etc/three', '100644', 3],
      ['etc/five', '100644', 5],
      ['etc/empty', '100644', 0],
      ['bin', '40700', 0],
      ['bin/run.sh', '100755', 18],
      ['bin/secret', '100600', 256],
      ['bin/sh-link', '120777', 6],
      ['abs-link', '120777', 10],
      ['dev/console', '20600', 0],
      ['TRAILER!!!', '0', 0],
    ])
    expect(parsed.map((e) => e.ino)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1))
    expect(parsed[9].data.equals(binary)).toBe(true)
    expect(parsed[10].data.toString()).toBe('run.sh')
    expect([parsed[12].rdevMajor, parsed[12].rdevMinor]).toEqual([5, 1])
    expect(buf.subarray(buf.length - 124).toString('latin1')).toMatch(/^070701[0-9a-f]{104}TRAILER!!!\0+$/)
  })

  it('writes only the trailer for no entries', () => {
    const parsed = parseNewc(cpioArchive([]))
    expect(parsed.map((e) => e.name)).toEqual(['TRAILER!!!'])
  })

  it.each(['..', '../etc/passwd', 'a/../../b', '/..', 'a/..', '', '/', '//'])('rejects the path %j', (path) => {
    expect(() => cpioArchive([{ type: 'file', path, data: 'x' }])).toThrow(`cpio: bad path ${JSON.stringify(path)}`)
  })

  it('accepts names that merely contain dots', () => {
    const parsed = parseNewc(cpioArchive([{ type: 'file', path: 'a..b/.c', data: 'x' }]))
    expect(parsed[0].name).toBe('a..b/.c')
  })

  it('is reproducible', () => {
    expect(cpioArchive(entries).equals(cpioArchive(entries))).toBe(true)
  })
})

describe('cpioGz', () => {
  it('is the gzip of the archive', () => {
    const gz = cpioGz(entries)
    expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b])
    expect(gunzipSync(gz).equals(cpioArchive(entries))).toBe(true)
    expect(gunzipSync(cpioGz(entries, 1)).equals(cpioArchive(entries))).toBe(true)
  })
})

describe('round trip through busybox cpio', () => {
  const withDev = [...entries, { type: 'dir', path: 'dev' } as const, { type: 'chardev', path: 'dev/console', major: 5, minor: 1 } as const]

  it('lists every entry in order', async () => {
    const file = join(root, 'list.cpio')
    writeFileSync(file, cpioArchive(withDev))
    const r = await execa(BUSYBOX, ['cpio', '-t', '-F', file])
    expect(r.stdout.split('\n')).toEqual([
      'etc',
      'etc/hello',
      'etc/one',
      'etc/two',
      'etc/three',
      'etc/five',
      'etc/empty',
      'bin',
      'bin/run.sh',
      'bin/secret',
      'bin/sh-link',
      'abs-link',
      'dev',
      'dev/console',
    ])
  })

  it('lists modes, types and link targets', async () => {
    const file = join(root, 'list-v.cpio')
    writeFileSync(file, cpioArchive(withDev))
    const r = await execa(BUSYBOX, ['cpio', '-tv', '-F', file])
    const lines = r.stdout.split('\n')
    const modeOf = (name: string): string => lines.find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} -> `))!.split(' ')[0]
    expect(modeOf('etc')).toBe('drwxr-xr-x')
    expect(modeOf('bin')).toBe('drwx------')
    expect(modeOf('bin/run.sh')).toBe('-rwxr-xr-x')
    expect(modeOf('bin/secret')).toBe('-rw-------')
    expect(modeOf('etc/hello')).toBe('-rw-r--r--')
    expect(modeOf('dev/console')).toBe('crw-------')
    expect(lines.some((l) => /^lrwxrwxrwx .* bin\/sh-link -> run\.sh$/.test(l))).toBe(true)
    expect(lines.some((l) => /^lrwxrwxrwx .* abs-link -> \/etc\/hello$/.test(l))).toBe(true)
  })

  it('extracts file contents, modes and symlink targets (uncompressed and gunzipped)', async () => {
    for (const [label, bytes] of [
      ['plain', cpioArchive(entries)],
      ['gz', gunzipSync(cpioGz(entries))],
    ] as const) {
      const file = join(root, `extract-${label}.cpio`)
      writeFileSync(file, bytes)
      const dir = join(root, `out-${label}`)
      mkdirSync(dir)
      await execa(BUSYBOX, ['cpio', '-i', '-d', '-F', file], { cwd: dir })
      expect(readFileSync(join(dir, 'etc/hello'), 'utf8')).toBe('hello\n')
      expect(readFileSync(join(dir, 'etc/one'), 'utf8')).toBe('a')
      expect(readFileSync(join(dir, 'etc/two'), 'utf8')).toBe('ab')
      expect(readFileSync(join(dir, 'etc/three'), 'utf8')).toBe('abc')
      expect(readFileSync(join(dir, 'etc/five'), 'utf8')).toBe('abcde')
      expect(readFileSync(join(dir, 'etc/empty')).length).toBe(0)
      expect(readFileSync(join(dir, 'bin/run.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n')
      expect(readFileSync(join(dir, 'bin/secret')).equals(binary)).toBe(true)
      expect(lstatSync(join(dir, 'bin/run.sh')).mode & 0o777).toBe(0o755)
      expect(lstatSync(join(dir, 'bin/secret')).mode & 0o777).toBe(0o600)
      expect(lstatSync(join(dir, 'etc/hello')).mode & 0o777).toBe(0o644)
      expect(lstatSync(join(dir, 'bin')).isDirectory()).toBe(true)
      expect(lstatSync(join(dir, 'bin')).mode & 0o777).toBe(0o700)
      expect(lstatSync(join(dir, 'bin/sh-link')).isSymbolicLink()).toBe(true)
      expect(readlinkSync(join(dir, 'bin/sh-link'))).toBe('run.sh')
      expect(readlinkSync(join(dir, 'abs-link'))).toBe('/etc/hello')
      expect(readFileSync(join(dir, 'bin/sh-link'), 'utf8')).toBe('#!/bin/sh\necho hi\n')
    }
  })
})

describe('parentDirs', () => {
  it('gives every parent once, parents first, without leading slashes', () => {
    expect(parentDirs(['/a/b/c.txt', 'a/d/e', 'f', 'a/b/g'])).toEqual([
      { type: 'dir', path: 'a' },
      { type: 'dir', path: 'a/b' },
      { type: 'dir', path: 'a/d' },
    ])
  })

  it('skips and records directories already seen', () => {
    const seen = new Set(['a'])
    expect(parentDirs(['a/b/c', 'x/y'], seen)).toEqual([
      { type: 'dir', path: 'a/b' },
      { type: 'dir', path: 'x' },
    ])
    expect([...seen].sort()).toEqual(['a', 'a/b', 'x'])
    expect(parentDirs(['a/b/z'], seen)).toEqual([])
  })

  it('gives nothing for top-level files', () => {
    expect(parentDirs(['init', '/etc'])).toEqual([])
  })

  it('makes an archive busybox extracts without -d', async () => {
    const files: CpioEntry[] = [{ type: 'file', path: 'usr/lib/x/deep.txt', data: 'deep' }]
    const buf = cpioArchive([...parentDirs(files.map((f) => f.path)), ...files])
    const file = join(root, 'parents.cpio')
    writeFileSync(file, buf)
    const dir = join(root, 'out-parents')
    mkdirSync(dir)
    await execa(BUSYBOX, ['cpio', '-i', '-F', file], { cwd: dir })
    expect(readFileSync(join(dir, 'usr/lib/x/deep.txt'), 'utf8')).toBe('deep')
  })
})
