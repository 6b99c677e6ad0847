// A newc ("070701") cpio archive writer, the format the Linux kernel unpacks
// as an initramfs. Written here so that no cpio binary is needed.
import { gzipSync } from 'node:zlib'

export type CpioEntry =
  | { type: 'file'; path: string; data: Buffer | string; mode?: number }
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0')
const pad4 = (n: number): number => (4 - (n % 4)) % 4

function header(ino: number, mode: number, size: number, nameLen: number, rdev: [number, number] = [0, 0]): string {
  return (
    '070701' +
    hex8(ino) + hex8(mode) + hex8(0) + hex8(0) + // ino, mode, uid, gid
    hex8(1) + hex8(0) + hex8(size) + // nlink, mtime (fixed: reproducible archives), filesize
    hex8(0) + hex8(0) + hex8(rdev[0]) + hex8(rdev[1]) + // dev major/minor, rdev major/minor
    hex8(nameLen) + hex8(0) // namesize (with NUL), check
  )
}

/** The archive bytes of `entries`, in order, with the trailer. Parents must come before children. */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  const push = (name: string, mode: number, data: Buffer, rdev?: [number, number]): void => {
    const nameBuf = Buffer.from(name + '\0')
    const head = Buffer.from(header(ino++, mode, data.length, nameBuf.length, rdev), 'ascii')
    parts.push(head, nameBuf, Buffer.alloc(pad4(head.length + nameBuf.length)))
    parts.push(data, Buffer.alloc(pad4(data.length)))
  }
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '')
    if (name === '' || name.split('/').includes('..')) throw new Error(`cpio: bad path ${JSON.stringify(e.path)}`)
    switch (e.type) {
      case 'dir':
        push(name, S_IFDIR | (e.mode ?? 0o755), Buffer.alloc(0))
        break
      case 'file':
        push(name, S_IFREG | (e.mode ?? 0o644), typeof e.data === 'string' ? Buffer.from(e.data) : e.data)
        break
      case 'symlink':
        push(name, S_IFLNK | 0o777, Buffer.from(e.target))
        break
      case 'chardev':
        push(name, S_IFCHR | (e.mode ?? 0o600), Buffer.alloc(0), [e.major, e.minor])
        break
    }
  }
  push('TRAILER!!!', 0, Buffer.alloc(0))
  return Buffer.concat(parts)
}

/** Directory entries for every parent of `paths` not yet in `seen`, parents first. */
export function parentDirs(paths: string[], seen = new Set<string>()): CpioEntry[] {
  const out: CpioEntry[] = []
  for (const p of paths) {
    const segs = p.replace(/^\/+/, '').split('/').slice(0, -1)
    for (let i = 1; i <= segs.length; i++) {
      const d = segs.slice(0, i).join('/')
      if (!seen.has(d)) {
        seen.add(d)
        out.push({ type: 'dir', path: d })
      }
    }
  }
  return out
}

/** A list of entries that gets every parent directory once, before its first child. */
export class CpioList {
  readonly entries: CpioEntry[] = []
  private readonly seen = new Set<string>()

  add(...list: CpioEntry[]): void {
    for (const e of list) {
      this.entries.push(...parentDirs([e.path], this.seen))
      if (e.type === 'dir') {
        if (this.seen.has(e.path)) continue
        this.seen.add(e.path)
      }
      this.entries.push(e)
    }
  }
}

/** A gzip-compressed newc archive (what `-initrd` takes; segments may be concatenated). */
export function cpioGz(entries: CpioEntry[], level = 6): Buffer {
  return gzipSync(cpioArchive(entries), { level })
}
