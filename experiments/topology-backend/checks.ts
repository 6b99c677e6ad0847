// backend as the original's test ran it (__ntesters=2; no base_test): nodes
// reach the testers and the testers a node's frontend address (net 3). The
// node's way out is its frontend, eth2; its backend net 1 is not routed.
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2, ntesters: 2 }

export const checks: TopologyChecks = {
  reach: [
    [1, '192.168.2.221'],
    [1, '192.168.2.222'],
    [221, '192.168.3.2'],
    [222, '192.168.3.2'],
    // the backend net between nodes (directly connected)
    [1, '192.168.1.2'],
  ],
  external: [
    [1, 'eth2'],
    [221, 'eth1'],
  ],
  unreachable: [
    // Testers cannot reach the backend addresses: no route to net 1.
    [221, '192.168.1.2'],
    [221, '1000::1:192.168.1.2'],
    [222, '1000::1:192.168.1.1'],
  ],
}
