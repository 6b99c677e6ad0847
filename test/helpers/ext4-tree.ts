// The tree of an ext4 image as debugfs reads it (no mount): each path with
// its kind, mode, owner and a link's target, read a level at a time with one
// debugfs run per level (`ls -p`), and the links' targets in one more run.
// debugfs's rdump is not used: it drops setuid and setgid bits (seen).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'

export interface Ext4Entry {
  kind: 'dir' | 'file' | 'link' | 'other'
  /** Permission bits with setuid, setgid and sticky (0o7777). */
  mode: number
  uid: number
  gid: number
  target?: string
}

async function debugfs(img: string, cmds: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'xc-debugfs-'))
  try {
    writeFileSync(join(dir, 'cmds'), cmds.join('\n') + '\n')
    const r = await execa('debugfs', ['-f', join(dir, 'cmds'), img], { reject: false, maxBuffer: 512 * 1024 * 1024 })
    return r.stdout
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const quote = (p: string): string => `"${p.replace(/(["\\])/g, '\\$1')}"`

/** Every path of the image `img` ('/' first), with its entry. */
export async function ext4Tree(img: string): Promise<Map<string, Ext4Entry>> {
  const out = new Map<string, Ext4Entry>([['/', { kind: 'dir', mode: 0o755, uid: 0, gid: 0 }]])
  let level = ['/']
  while (level.length) {
    const text = await debugfs(img, level.map((d) => `ls -p ${quote(d)}`))
    const next: string[] = []
    let dir = ''
    for (const line of text.split('\n')) {
      const cmd = /^debugfs: ls -p "(.*)"$/.exec(line)
      if (cmd) {
        dir = cmd[1].replace(/\\(["\\])/g, '$1')
        continue
      }
      const m = /^\/(\d+)\/([0-7]+)\/(\d+)\/(\d+)\/(.*)\/(\d*)\/$/.exec(line)
      if (!m || m[5] === '.' || m[5] === '..' || (dir === '/' && m[5] === 'lost+found')) continue
      const full = Number.parseInt(m[2], 8)
      const type = full & 0o170000
      const kind = type === 0o040000 ? 'dir' : type === 0o100000 ? 'file' : type === 0o120000 ? 'link' : 'other'
      const path = dir === '/' ? `/${m[5]}` : `${dir}/${m[5]}`
      out.set(path, { kind, mode: full & 0o7777, uid: Number(m[3]), gid: Number(m[4]) })
      if (kind === 'dir') next.push(path)
    }
    level = next
  }
  const links = [...out].filter(([, e]) => e.kind === 'link').map(([p]) => p)
  if (links.length) {
    const text = await debugfs(img, links.map((p) => `stat ${quote(p)}`))
    let cur = ''
    for (const line of text.split('\n')) {
      const cmd = /^debugfs: stat "(.*)"$/.exec(line)
      if (cmd) cur = cmd[1].replace(/\\(["\\])/g, '$1')
      const t = /^Fast link dest: "(.*)"$/.exec(line)
      if (t && out.has(cur)) out.get(cur)!.target = t[1]
    }
  }
  return out
}

/** Names of the ids in a passwd or group file's text. */
export function idNames(text: string): Map<number, string> {
  return new Map(text.trim().split('\n').map((l) => l.split(':')).map((f) => [Number(f[2]), f[0]]))
}
