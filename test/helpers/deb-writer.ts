// .deb files written byte by byte (an ar archive of debian-binary,
// control.tar and data.tar, uncompressed, which dpkg-deb reads), so that a
// test can make packages no honest tool would build: members named with
// `..`, links that climb out of the tree. Also a flat apt repository of
// them (a Packages file with each .deb's size and sha256).
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface TarEntry {
  /** The member's name as stored (`./usr/bin/x`, or anything: `./../../tmp/x`). */
  name: string
  type: 'file' | 'dir' | 'symlink'
  text?: string
  target?: string
  mode?: number
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512)
  const put = (s: string, at: number, len: number): void => void h.write(s.slice(0, len), at, 'utf8')
  const oct = (n: number, len: number): string => n.toString(8).padStart(len - 1, '0')
  put(e.name, 0, 100)
  put(oct(e.mode ?? (e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644), 8), 100, 8)
  put(oct(0, 8), 108, 8)
  put(oct(0, 8), 116, 8)
  put(oct(size, 12), 124, 12)
  put(oct(1700000000, 12), 136, 12)
  put('        ', 148, 8)
  put(e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0', 156, 1)
  if (e.target) put(e.target, 157, 100)
  put('ustar\u000000', 257, 8)
  put('root', 265, 32)
  put('root', 297, 32)
  let sum = 0
  for (const b of h) sum += b
  put(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8)
  return h
}

/** A tar archive of `entries`. */
export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const e of entries) {
    const body = Buffer.from(e.type === 'file' ? (e.text ?? '') : '')
    parts.push(header(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

function ar(members: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n')]
  for (const [name, data] of members) {
    const h = `${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\`\n`
    parts.push(Buffer.from(h), data, data.length % 2 ? Buffer.from('\n') : Buffer.alloc(0))
  }
  return Buffer.concat(parts)
}

export interface TestDeb {
  name: string
  version?: string
  depends?: string
  data: TarEntry[]
  postinst?: string
}

/** The bytes of a .deb for `p`. */
export function deb(p: TestDeb): Buffer {
  const control = `Package: ${p.name}\nVersion: ${p.version ?? '1.0'}\nArchitecture: amd64\nMaintainer: xcluster tests <tests@example.org>\nDescription: test package ${p.name}\n${p.depends ? `Depends: ${p.depends}\n` : ''}`
  const ctrl: TarEntry[] = [{ name: './', type: 'dir' }, { name: './control', type: 'file', text: control }]
  if (p.postinst) ctrl.push({ name: './postinst', type: 'file', text: p.postinst, mode: 0o755 })
  return ar([['debian-binary', Buffer.from('2.0\n')], ['control.tar', tar(ctrl)], ['data.tar', tar(p.data)]])
}

/** Write each package's .deb into `repo` and its Packages file (a flat repository: `deb [trusted=yes] file:REPO ./`). */
export function flatRepo(repo: string, packages: TestDeb[]): void {
  const stanzas: string[] = []
  for (const p of packages) {
    const bytes = deb(p)
    const file = `${p.name}_${p.version ?? '1.0'}_amd64.deb`
    writeFileSync(join(repo, file), bytes)
    stanzas.push([
      `Package: ${p.name}`, `Version: ${p.version ?? '1.0'}`, 'Architecture: amd64', 'Maintainer: xcluster tests <tests@example.org>',
      `Description: test package ${p.name}`, ...(p.depends ? [`Depends: ${p.depends}`] : []),
      `Filename: ./${file}`, `Size: ${bytes.length}`, `SHA256: ${createHash('sha256').update(bytes).digest('hex')}`, '',
    ].join('\n'))
  }
  writeFileSync(join(repo, 'Packages'), stanzas.join('\n'))
}
