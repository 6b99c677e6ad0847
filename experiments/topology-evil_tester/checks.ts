// evil_tester as the original's test ran it (2 testers): the effective
// base_test, v1 <-> v221 through the routers and the evil tester vm-222.
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2, ntesters: 2 }

export const checks: TopologyChecks = {
  reach: [
    [1, '192.168.2.221'],
    [221, '192.168.1.2'],
    // the evil tester on both its nets
    [1, '192.168.3.222'],
    [221, '192.168.2.222'],
  ],
  // Only v1: vm-221's way out is vm-222, which does not NAT and is itself on net 0, so it
  // forwards v221's packets to the host alias directly (un-NATed); the original's
  // nslookup/wget went to the internet, which vm-222 routes to the routers.
  external: [[1, 'eth1']],
  unreachable: [
    // The routers are not on net 2 any more (net 3 instead): their std net-2 address does not exist.
    [1, '192.168.2.201'],
    [1, '1000::1:192.168.2.201'],
  ],
}
