// Run by crash-cleanup.test.ts, owner.test.ts and ssh-hosts.test.ts, then
// killed with SIGKILL: starts a cluster in the given home, prints "up <id>"
// once it is up, and waits forever. A fourth argument is the `hosts` option
// as JSON (ssh hosts; empty for none), a fifth more options as JSON.
import { startCluster } from '../../src/index.ts'

const [home, network, nvm, hosts, more] = process.argv.slice(2)
const cluster = await startCluster({ home, name: 'killed', network: network as 'user' | 'bridge', nvm: Number(nvm), nrouters: 0, ...(hosts ? { hosts: JSON.parse(hosts) } : {}), ...(more ? JSON.parse(more) : {}) })
process.stdout.write(`up ${cluster.id}\n`)
await new Promise(() => {})
