// The cluster's own initramfs segment, appended to the base image: the
// cluster's settings, /etc/hosts and the overlays. The kernel unpacks
// concatenated archives in order, so this segment's files land on top.
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, constants, accessSync } from 'node:fs'
import { basename, join } from 'node:path'
import { tmpdir } from 'node:os'
import { execa } from 'execa'
import { HostCommandError } from '../errors.ts'
import { cpioGz, CpioList, type CpioEntry } from './cpio.ts'

export type OverlayKind = 'tar-script' | 'dir' | 'tar-file'

/** What kind of overlay `path` is, or undefined when it is none. */
export function overlayKind(path: string): OverlayKind | undefined {
  if (!existsSync(path)) return undefined
  const st = statSync(path)
  if (st.isDirectory()) {
    const script = join(path, 'tar')
    if (existsSync(script) && statSync(script).isFile()) {
      try {
        accessSync(script, constants.X_OK)
        return 'tar-script'
      } catch {
        return 'dir'
      }
    }
    return 'dir'
  }
  if (st.isFile() && /\.tar$/.test(path)) return 'tar-file'
  return undefined
}

/** Entries for every file under `dir`, placed under `prefix`, modes and symlinks kept. */
export function dirEntries(dir: string, prefix: string): CpioEntry[] {
  const out: CpioEntry[] = [{ type: 'dir', path: prefix }]
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name
      const abs = join(dir, r)
      const st = lstatSync(abs)
      const path = `${prefix}/${r}`
      if (st.isSymbolicLink()) out.push({ type: 'symlink', path, target: readlinkSync(abs) })
      else if (st.isDirectory()) {
        out.push({ type: 'dir', path, mode: st.mode & 0o7777 })
        walk(r)
      } else if (st.isFile()) out.push({ type: 'file', path, data: readFileSync(abs), mode: st.mode & 0o7777 })
    }
  }
  walk('')
  return out
}

/** Run an xcluster overlay's `tar` script and return the archive it wrote. */
export async function runTarScript(dir: string, env: Record<string, string>): Promise<Buffer> {
  const tmp = mkdtempSync(join(tmpdir(), 'xc-ovl-'))
  const out = join(tmp, 'ovl.tar')
  try {
    const r = await execa(join(dir, 'tar'), [out], { cwd: dir, env, reject: false, timeout: 120_000 })
    if (r.exitCode !== 0 || !existsSync(out)) {
      throw new HostCommandError(`Overlay ${dir}: its tar script failed (exit ${r.exitCode ?? r.signal}): ${r.stderr.trim() || r.stdout.trim() || 'no output'}`)
    }
    return readFileSync(out)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

export interface SegmentInput {
  /** Files written as they are (e.g. etc/hosts, etc/xcluster/cluster.env). */
  files: Record<string, string | Buffer | { data: string | Buffer; mode: number }>
  /** Overlay lists by scope: `all`, a role, or a VM name. */
  overlays: Record<string, string[]>
  /** Environment of overlay tar scripts. */
  env: Record<string, string>
}

/** The segment as gzip'd newc bytes. */
export async function buildSegment(input: SegmentInput): Promise<Buffer> {
  const list = new CpioList()
  const add = (entries: CpioEntry[]): void => list.add(...entries)
  for (const [path, f] of Object.entries(input.files)) {
    add([typeof f === 'string' || Buffer.isBuffer(f) ? { type: 'file', path, data: f, mode: 0o644 } : { type: 'file', path, data: f.data, mode: f.mode }])
  }
  for (const [scope, paths] of Object.entries(input.overlays)) {
    for (const [i, path] of paths.entries()) {
      const name = `xcluster/ovl/${scope}/${String(i).padStart(3, '0')}-${basename(path).replace(/[^A-Za-z0-9._-]/g, '_')}`
      const kind = overlayKind(path)
      if (kind === 'dir') add(dirEntries(path, name))
      else if (kind === 'tar-file') add([{ type: 'file', path: `${name}.tar`, data: readFileSync(path) }])
      else if (kind === 'tar-script') add([{ type: 'file', path: `${name}.tar`, data: await runTarScript(path, input.env) }])
      else throw new HostCommandError(`Overlay ${path} is neither a directory nor a .tar file`)
    }
  }
  return cpioGz(list.entries)
}
