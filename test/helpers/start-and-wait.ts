// Run by crash-cleanup.test.ts, owner.test.ts and ssh-hosts.test.ts, then
// killed with SIGKILL: starts a cluster in the given home, prints "up <id>"
// once it is up, and waits forever. A fourth argument is the `hosts` option
// as JSON (ssh hosts).
import { startCluster } from '../../src/index.ts'

const [home, network, nvm, hosts] = process.argv.slice(2)
const cluster = await startCluster({ home, name: 'killed', network: network as 'user' | 'bridge', nvm: Number(nvm), nrouters: 0, ...(hosts ? { hosts: JSON.parse(hosts) } : {}) })
process.stdout.write(`up ${cluster.id}\n`)
await new Promise(() => {})
