// The structure of src/: no import cycles (type imports included), and
// imports that only point down the layers of the flow:
//   errors.ts, log.ts < plan/ < pure/ < host/ < mechanisms (image, kernel, qemu, control, net,
//   topology, diagram, packages; each uses only plan/ and host/) < cluster/ < faces
//   (cli/, vitest/, index.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const SRC = join(ROOT, 'src')

const RANK: Record<string, number> = {
  'errors.ts': 0, 'log.ts': 0, plan: 1, pure: 1.5, host: 2,
  image: 3, qemu: 3, control: 3, net: 3, topology: 3, diagram: 3, packages: 3, kernel: 3,
  cluster: 4, cli: 5, vitest: 5, 'index.ts': 5,
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs)$/.test(n) ? [p] : []
  })
}

/** The src files `file` imports (static, dynamic and type imports). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1])
  return specs.map((s) => resolve(dirname(file), s))
}

/** The layer of a src path: its top folder, or the file itself at the top. */
const layerOf = (p: string): string => relative(SRC, p).split('/')[0]

describe('the layers of src/', () => {
  it('has no import cycle (dpdm, type imports included)', async () => {
    const list = files(SRC).filter((f) => f.endsWith('.ts'))
    const r = await execa('npx', ['dpdm', '--no-warning', '--no-tree', ...list.map((f) => relative(ROOT, f))], { cwd: ROOT, reject: false, env: { NO_COLOR: '1' } })
    expect(r.stdout).toContain('Circular Dependencies')
    expect(r.stdout, r.stdout).toMatch(/no circular dependency/i)
  }, 120_000)

  it('imports only point down, and a mechanism uses only plan/ and host/', () => {
    const wrong: string[] = []
    for (const file of files(SRC)) {
      const from = layerOf(file)
      for (const target of importsOf(file)) {
        if (!target.startsWith(SRC)) {
          wrong.push(`${relative(ROOT, file)} imports ${relative(ROOT, target)}, outside src/`)
          continue
        }
        const to = layerOf(target)
        if (from === to) continue
        if (RANK[to] === undefined || RANK[from] === undefined) wrong.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)}: a layer the check does not know`)
        else if (RANK[to] > RANK[from]) wrong.push(`${relative(ROOT, file)} imports ${relative(ROOT, target)}, a higher layer`)
        else if (RANK[from] === 3 && RANK[to] === 3) wrong.push(`${relative(ROOT, file)} imports ${relative(ROOT, target)}, another mechanism`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('sees the imports it checks (the parser is not blind)', () => {
    const got = importsOf(join(SRC, 'cluster', 'boot.ts')).map((p) => relative(SRC, p))
    expect(got).toContain('host/spawner.ts')
    expect(got).toContain('plan/plan.ts')
  })
})
