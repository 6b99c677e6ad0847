// x-diamond (the original's `test x_diamond`, 1 tester): the effective
// base_test across two routers per path; the cross-links 9-12 are
// addressed (their ends answer each other) but no route uses them.
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2 }

export const checks: TopologyChecks = {
  reach: [
    [1, '192.168.2.221'],
    [221, '192.168.1.2'],
    // each cross-link, end to end
    [203, '192.168.9.204'],
    [205, '192.168.10.206'],
    [203, '192.168.11.206'],
    [204, '192.168.12.205'],
  ],
  external: [
    [1, 'eth1'],
    [221, 'eth1'],
  ],
  unreachable: [
    // The cross-links are not routed: vm-201 has no IPv6 route to net 9.
    [1, '1000::1:192.168.9.204'],
    // A middle router has no default route.
    [205, '192.168.3.201'],
  ],
}
