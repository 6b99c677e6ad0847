// zones as the original's test ran it (__ntesters=2, scale-out 10 11 20 21):
// here the zone VMs come with the cluster (extraVms) and one ordinary node is
// enough. base_test's `v221 ping 192.168.1.2` becomes 192.168.1.1 (nvm 1).
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 1, ntesters: 2, extraVms: [10, 11, 20, 21] }

export const checks: TopologyChecks = {
  reach: [
    // base_test
    [1, '192.168.2.221'],
    [221, '192.168.1.1'],
    // the zones test
    [10, '192.168.2.221'],
    [1, '192.168.3.10'],
    [20, '192.168.2.221'],
    [1, '192.168.4.20'],
    // the other zone VMs, from a tester
    [221, '192.168.3.11'],
    [222, '192.168.4.21'],
  ],
  // nslookup/wget ran on v1, v221, v10 and v20: each goes out through vm-201's NAT.
  external: [
    [1, 'eth1'],
    [221, 'eth1'],
    [10, 'eth1'],
    [20, 'eth1'],
  ],
  unreachable: [
    // The zone VMs are on their zone's net only, not on net 1 (the original's VMs 14-19/24-29 bug).
    [1, '192.168.1.10'],
    [221, '192.168.1.20'],
  ],
}
