#!/usr/bin/env node
// The xc command. The CLI is TypeScript; tsx loads it on Node 20, which
// cannot strip types by itself.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/main.ts')
const code = await main(process.argv.slice(2))
// Exit once stdout has drained: a detached cluster's handles must not hold us.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
