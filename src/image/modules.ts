// Kernel modules for the guest, found through modules.dep.
import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { execa } from 'execa'
import { MissingDependencyError } from '../errors.ts'

/** Module name (as modprobe spells it) of a path in modules.dep. */
export function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|gz|zst))?$/, '').replace(/-/g, '_')
}

/** Parse modules.dep: module path -> its dependencies' paths. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const i = line.indexOf(':')
    if (i < 0) continue
    const rest = line.slice(i + 1).trim()
    deps.set(line.slice(0, i).trim(), rest ? rest.split(/\s+/) : [])
  }
  return deps
}

/** Every module path needed to load `roots` (module names), dependencies included. */
export function moduleClosure(deps: Map<string, string[]>, roots: string[]): { paths: string[]; missing: string[] } {
  const byName = new Map<string, string>()
  for (const p of deps.keys()) byName.set(moduleName(p), p)
  const out = new Set<string>()
  const missing: string[] = []
  const visit = (p: string): void => {
    if (out.has(p)) return
    out.add(p)
    for (const d of deps.get(p) ?? []) visit(d)
  }
  for (const r of roots) {
    const p = byName.get(r.replace(/-/g, '_'))
    if (p) visit(p)
    else missing.push(r)
  }
  return { paths: [...out].sort(), missing }
}

/** The modules.dep of `modulesDir` (lib/modules/<version>), made with busybox depmod when absent. */
export async function ensureModulesDep(modulesDir: string): Promise<string> {
  const dep = join(modulesDir, 'modules.dep')
  if (!existsSync(dep)) {
    const version = basename(modulesDir)
    const base = dirname(dirname(dirname(modulesDir)))
    if (!modulesDir.endsWith(join('lib', 'modules', version))) {
      throw new MissingDependencyError(
        `${modulesDir} has no modules.dep and is not laid out as <base>/lib/modules/<version>; run depmod for it first`,
      )
    }
    await execa('busybox', ['depmod', '-b', base, version])
  }
  return readFileSync(dep, 'utf8')
}

const SIG_MAGIC = '~Module signature appended~\n'

/**
 * A module without its appended signature. The guest kernel then loads it
 * without the RSA check (and marks itself tainted, as for any unsigned
 * module; CONFIG_MODULE_SIG_FORCE is off in Debian's kernels).
 */
export function stripModuleSignature(ko: Buffer): Buffer {
  const end = ko.length - SIG_MAGIC.length
  if (end < 12 || ko.toString('latin1', end) !== SIG_MAGIC) return ko
  // struct module_signature (12 bytes) precedes the magic; its last field is the signature's length.
  const sigLen = ko.readUInt32BE(end - 4)
  const start = end - 12 - sigLen
  return start > 0 ? ko.subarray(0, start) : ko
}

/** A modules.dep of just the `shipped` modules (dependencies outside them dropped), so that modprobe works in the guest. */
export function trimmedModulesDep(deps: Map<string, string[]>, shipped: string[]): string {
  const set = new Set(shipped)
  return shipped.map((p) => `${p}: ${(deps.get(p) ?? []).filter((d) => set.has(d)).join(' ')}`.trimEnd()).join('\n') + '\n'
}
