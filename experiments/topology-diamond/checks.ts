// diamond as the original's test ran it (1 tester): the effective base_test
// across the multipath edges vm-201 and vm-202.
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2 }

export const checks: TopologyChecks = {
  reach: [
    [1, '192.168.2.221'],
    [221, '192.168.1.2'],
    // both middle routers, from both edges (each edge is directly on both paths)
    [1, '192.168.3.203'],
    [1, '192.168.4.204'],
    [221, '192.168.5.203'],
    [221, '192.168.6.204'],
  ],
  external: [
    [1, 'eth1'],
    [221, 'eth1'],
  ],
  unreachable: [
    // The middle routers have no default route and no route to the other path's nets.
    [203, '192.168.6.204'],
    [204, '1000::1:192.168.5.203'],
  ],
}
