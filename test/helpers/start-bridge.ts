// Run as an unprivileged user by start-errors.test.ts: tries a bridge-mode
// start (with the options JSON in argv[3] on top) and prints what it threw as JSON.
import { startCluster } from '../../src/index.ts'

const home = process.argv[2]
try {
  const c = await startCluster({ home, nvm: 1, nrouters: 0, network: 'bridge', ...JSON.parse(process.argv[3] ?? '{}') })
  await c.stop()
  console.log(JSON.stringify({ name: 'none', problems: [], message: 'started' }))
} catch (e) {
  const err = e as Error & { problems?: string[] }
  console.log(JSON.stringify({ name: err.name, problems: err.problems ?? [], message: err.message }))
}
