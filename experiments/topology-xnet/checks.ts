// xnet as the original's test ran it (__ntesters=2): nodes and testers ping
// each other across the ECMP routers; both reach the host through the
// routers' NAT. Two nodes are enough to show it.
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2, ntesters: 2 }

export const checks: TopologyChecks = {
  reach: [
    [1, '192.168.2.221'],
    [221, '192.168.1.2'],
    [2, '192.168.2.222'],
    [222, '192.168.1.1'],
  ],
  external: [
    [1, 'eth1'],
    [221, 'eth1'],
  ],
  // A node has no address on net 2 and a tester none on net 1: nothing answers there.
  unreachable: [[1, '192.168.2.1']],
}
