// multilan as the original's test ran it (__ntesters=2): the effective
// base_test, as xnet. The extra LANs (nets 3-5) carry no addresses.
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2, ntesters: 2 }

export const checks: TopologyChecks = {
  reach: [
    [1, '192.168.2.221'],
    [221, '192.168.1.2'],
  ],
  external: [
    [1, 'eth1'],
    [221, 'eth1'],
  ],
  unreachable: [
    // The extra LANs have no addresses: the std address of vm-002 on net 3 does not answer.
    [1, '192.168.3.2'],
    [1, '1000::1:192.168.3.2'],
  ],
}
