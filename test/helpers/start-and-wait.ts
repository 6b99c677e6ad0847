// Run by crash-cleanup.test.ts, then killed with SIGKILL: starts a cluster
// in the given home and waits forever.
import { startCluster } from '../../src/index.ts'

const [home, network, nvm] = process.argv.slice(2)
await startCluster({ home, name: 'killed', network: network as 'user' | 'bridge', nvm: Number(nvm), nrouters: 0 })
await new Promise(() => {})
