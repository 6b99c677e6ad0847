// multilan-router as the original's test ran it (__ntesters=2,
// XLAN_TEMPLATE=169.254.0.0/20/24): the effective base_test, then vm-202
// reaches the nodes on each extra LAN (nets 3, 4, 5). With two nodes,
// `v202 ping 169.254.5.3` becomes 169.254.5.1.
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2, ntesters: 2 }

export const checks: TopologyChecks = {
  reach: [
    [1, '192.168.2.221'],
    [221, '192.168.1.2'],
    [202, '169.254.3.1'],
    [202, '169.254.4.2'],
    [202, '169.254.5.1'],
    // node to node on an extra LAN
    [1, '169.254.4.2'],
  ],
  external: [
    [1, 'eth1'],
    [221, 'eth1'],
  ],
  unreachable: [
    // vm-201 is not on the extra LANs and has no route to them.
    [201, '169.254.3.1'],
    [201, '1000::1:169.254.3.1'],
  ],
}
