// Programs from the host in the busybox VM: each binary with every shared
// library it needs (found with ldd) and the loader, at the same paths as on
// the host, so that a Debian tcpdump runs unchanged in the guest.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync, symlinkSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { execa } from 'execa'
import { MissingDependencyError } from '../errors.ts'
import { which } from '../host/which.ts'

/** The shared objects `ldd` lists for `path` (loader included), as absolute paths. */
export async function sharedLibraries(path: string): Promise<string[]> {
  const r = await execa('ldd', [path], { reject: false })
  if (r.exitCode !== 0) return [] // static binary, or not an ELF executable
  const libs: string[] = []
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line)
    if (m) libs.push(m[1])
  }
  return libs
}

export interface FileSet {
  /** path -> symlink target, for symlinks on the way to a file */
  links: Map<string, string>
  /** real files */
  files: Set<string>
}

/** Add `path` to `set`, following its symlinks (each kept as a link) to the real file. */
function addPath(set: FileSet, path: string): void {
  let p = resolve(path)
  for (let hops = 0; hops < 20; hops++) {
    const st = lstatSync(p)
    if (!st.isSymbolicLink()) {
      set.files.add(p)
      return
    }
    const target = readlinkSync(p)
    set.links.set(p, target)
    p = resolve(dirname(p), target)
  }
}

/**
 * Everything the programs need: binaries (by name on PATH or by path), their
 * libraries, and `extra` files or directories (e.g. dlopen'ed plugins).
 */
export async function programFiles(programs: string[], extra: string[] = []): Promise<FileSet> {
  const set: FileSet = { links: new Map(), files: new Set() }
  const missing: string[] = []
  const elfs: string[] = []
  for (const prog of programs) {
    const path = prog.includes('/') ? prog : which(prog)
    if (!path || !existsSync(path)) {
      missing.push(prog)
      continue
    }
    addPath(set, path)
    elfs.push(realpathSync(path))
  }
  for (const e of extra) {
    if (!existsSync(e)) continue
    if (statSync(e).isDirectory()) {
      for (const f of readdirSync(e)) {
        const p = join(e, f)
        if (statSync(p).isFile()) {
          addPath(set, p)
          elfs.push(realpathSync(p))
        }
      }
    } else addPath(set, e)
  }
  if (missing.length) {
    throw new MissingDependencyError(`Host programs not found: ${missing.join(', ')}. Run \`npm run setup\` (it installs the tools' Debian packages).`)
  }
  const libs = await Promise.all(elfs.map(sharedLibraries))
  for (const l of libs.flat()) addPath(set, l)
  return set
}

/** Write an overlay directory with `programs` and everything they need (usable as `overlays: [dir]`). */
export async function writeProgramOverlay(dir: string, programs: string[], extra: string[] = []): Promise<string> {
  const set = await programFiles(programs, extra)
  for (const f of set.files) {
    const dst = join(dir, f)
    mkdirSync(dirname(dst), { recursive: true })
    writeFileSync(dst, readFileSync(f), { mode: statSync(f).mode & 0o7777 })
  }
  for (const [p, t] of set.links) {
    const dst = join(dir, p)
    mkdirSync(dirname(dst), { recursive: true })
    try {
      lstatSync(dst)
    } catch {
      symlinkSync(t, dst)
    }
  }
  return dir
}
