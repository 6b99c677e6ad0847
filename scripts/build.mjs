#!/usr/bin/env node
// npm run build: src/ compiled to dist/ (JavaScript and declarations) so that the package runs on plain node without a TypeScript loader.
// Then the plain-JS helpers (keeper.mjs, relay.mjs) and the kernel's config fragments are copied beside their
// modules, the declarations' import paths are made to name .js files, and
// the image code hash of src/image is stamped into dist/image, so that an
// image built from the source and one built by the package are the same.
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execFileSync } from 'node:child_process'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'src')
const dist = join(root, 'dist')

function walk(dir) {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]))
}

rmSync(dist, { recursive: true, force: true })
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
// The kernel config fragments are read at run time, beside their module.
for (const f of walk(src).filter((f) => f.endsWith('.mjs') || f.endsWith('.config'))) cpSync(f, join(dist, f.slice(src.length)))
for (const f of walk(dist).filter((f) => f.endsWith('.d.ts'))) {
  const text = readFileSync(f, 'utf8')
  const fixed = text.replace(/(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2')
  if (fixed !== text) writeFileSync(f, fixed)
}
const { imageCodeHash } = await import(join(dist, 'image', 'build-image.js'))
writeFileSync(join(dist, 'image', 'code-hash.json'), JSON.stringify({ hash: imageCodeHash(join(src, 'image')) }) + '\n')
// Package layers are keyed by the code that builds them, as the image is.
const { codeHash } = await import(join(dist, 'host', 'code-hash.js'))
writeFileSync(join(dist, 'packages', 'code-hash.json'), JSON.stringify({ hash: codeHash(join(src, 'packages'), false) }) + '\n')
if (!existsSync(join(dist, 'cli', 'main.js'))) throw new Error('build: dist/cli/main.js is missing')
console.log(`build: dist/ ready (image code ${imageCodeHash(join(src, 'image'))})`)
