#!/usr/bin/env node
// The xc command. Installed, it runs the package's JavaScript (dist/) on
// plain node. In a source checkout (src/ beside bin/) it runs the TypeScript
// through tsx, a dev dependency, so that the repo's tests use the source.
import { existsSync } from 'node:fs'

const source = new URL('../src/cli/main.ts', import.meta.url)
let main
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import(source.href))
} else {
  ;({ main } = await import('../dist/cli/main.js'))
}
const code = await main(process.argv.slice(2))
// Exit once stdout has drained: a detached cluster's handles must not hold us.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
