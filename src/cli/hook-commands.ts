// xcluster's hook: `export XCLUSTER_HOOK=$MY_EXPERIMENT_DIR/xcluster.hook;
// xc mystart`. Here XCLUSTER_HOOK names a JavaScript or TypeScript module
// whose exports are start functions (`(ctx: StartContext) => Promise<void>`,
// as the `start` option); `xc mystart [options] [overlay...]` runs its export
// `mystart` (or `cmd_mystart`, the original's name) as the cluster's start,
// with xc start's options and detached lifetime. The xc commands come first:
// a hook's function named like one of them is not reachable by that name.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { CustomStart } from '../cluster/start-context.ts'
import { HookError } from '../errors.ts'
import { CLUSTER_OPTIONS, type Command } from './args.ts'
import { startDetached } from './cluster-commands.ts'

/** True for a module Node 20 cannot import without a loader. */
export function isTypeScript(path: string): boolean {
  return /\.(c|m)?tsx?$/.test(path)
}

/** The functions a module exports, by name (a default export's own functions too). */
export function exportedFunctions(mod: Record<string, unknown>): Record<string, (...a: unknown[]) => unknown> {
  const out: Record<string, (...a: unknown[]) => unknown> = {}
  const def = mod.default
  if (def && typeof def === 'object') for (const [k, v] of Object.entries(def)) if (typeof v === 'function') out[k] = v as (...a: unknown[]) => unknown
  for (const [k, v] of Object.entries(mod)) if (typeof v === 'function') out[k] = v as (...a: unknown[]) => unknown
  return out
}

/** The export a command name stands for: `name`, else `cmd_name` (xcluster's hook functions are cmd_<name>). */
export function pickStart(fns: Record<string, unknown>, name: string): string | undefined {
  return [name, `cmd_${name}`].find((k) => typeof fns[k] === 'function')
}

/**
 * tsx's loader, registered in this process (Node >= 20.6, module.register),
 * from the hook's own directory or else beside xcluster; false when neither
 * has tsx.
 */
async function registerTsx(hook: string): Promise<boolean> {
  for (const from of [hook, import.meta.url]) {
    let pkg: string
    try {
      pkg = createRequire(from).resolve('tsx/package.json')
    } catch {
      continue
    }
    // Its ESM entry (the `import` condition of `tsx/esm/api`): require.resolve would give the CommonJS one.
    const api = (JSON.parse(readFileSync(pkg, 'utf8')) as { exports?: Record<string, { import?: string | { default?: string } }> }).exports?.['./esm/api']?.import
    const entry = typeof api === 'string' ? api : api?.default
    if (!entry) continue
    const { register } = (await import(pathToFileURL(join(dirname(pkg), entry)).href)) as { register: () => unknown }
    register()
    return true
  }
  return false
}

/** Load the hook module at `path` (relative to the working directory). */
export async function loadHook(path: string, fn: string): Promise<Record<string, (...a: unknown[]) => unknown>> {
  const abs = resolve(path)
  if (!existsSync(abs)) throw new HookError(path, fn, [], `XCLUSTER_HOOK=${path}: no such file`)
  // Node 22.6+ strips types itself (process.features.typescript); Node 20 needs a loader.
  const strips = (process.features as { typescript?: string }).typescript !== undefined
  if (isTypeScript(abs) && !strips && !(await registerTsx(abs))) {
    throw new HookError(path, fn, [],
      `XCLUSTER_HOOK=${path} is TypeScript, which Node ${process.versions.node} cannot import without a loader, and no tsx was found beside the hook or beside xcluster: ` +
        'install it where the hook is (npm install -D tsx), or write the hook as JavaScript (.mjs, or .js in a "type": "module" package)')
  }
  try {
    return exportedFunctions((await import(pathToFileURL(abs).href)) as Record<string, unknown>)
  } catch (e) {
    throw new HookError(path, fn, [], `XCLUSTER_HOOK=${path} did not load: ${(e as Error).message}`, { cause: e })
  }
}

/**
 * The command `xc <name>` where `name` is no xc command: with XCLUSTER_HOOK
 * set, a detached start by the hook's start function `name` (or
 * `cmd_<name>`); undefined without XCLUSTER_HOOK. The hook is loaded when the
 * command runs, and what goes wrong then (no such file, no loader for
 * TypeScript, no such export) is a HookError that lists the hook's functions.
 */
export function hookCommand(name: string, env: NodeJS.ProcessEnv = process.env): Command | undefined {
  const hook = env.XCLUSTER_HOOK
  if (!hook || !/^[A-Za-z_$][\w$]*$/.test(name)) return undefined
  return {
    name,
    summary: `Start a cluster by the start function \`${name}\` (or \`cmd_${name}\`) of XCLUSTER_HOOK=${hook}, kept running as by xc start.`,
    usage: `${name} [cluster options] [overlay...]`,
    options: CLUSTER_OPTIONS,
    async run(args) {
      const fns = await loadHook(hook, name)
      const key = pickStart(fns, name)
      if (!key) {
        const names = Object.keys(fns)
        throw new HookError(hook, name, names,
          `XCLUSTER_HOOK=${hook} exports no function \`${name}\` or \`cmd_${name}\`; its functions: ${names.length ? names.join(', ') : 'none'}. ` +
            `\`xc ${name}\` runs the hook's start function of that name (xc's own commands: xc --help)`)
      }
      return startDetached(args, { start: fns[key] as unknown as CustomStart, label: `${hook}:${key}` })
    },
  }
}
