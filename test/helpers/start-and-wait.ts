// Run by crash-cleanup.test.ts and owner.test.ts, then killed with SIGKILL:
// starts a cluster in the given home, prints "up <id>" once it is up, and
// waits forever.
import { startCluster } from '../../src/index.ts'

const [home, network, nvm] = process.argv.slice(2)
const cluster = await startCluster({ home, name: 'killed', network: network as 'user' | 'bridge', nvm: Number(nvm), nrouters: 0 })
process.stdout.write(`up ${cluster.id}\n`)
await new Promise(() => {})
