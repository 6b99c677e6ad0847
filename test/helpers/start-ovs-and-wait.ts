// Run by net-setup-daemons.test.ts, then killed with SIGKILL: starts a
// bridge-mode cluster whose nets are Open vSwitch (the OVS net-setup script)
// in the given home, prints "up <id>" once it is up, and waits forever.
import { startCluster } from '../../src/index.ts'
import { NET_SETUP_OVS } from '../../fixtures/index.ts'

const [home, nvm] = process.argv.slice(2)
const cluster = await startCluster({ home, name: 'ovs-killed', nvm: Number(nvm), nrouters: 0, network: { base: 'bridge', netSetup: NET_SETUP_OVS } })
process.stdout.write(`up ${cluster.id}\n`)
await new Promise(() => {})
