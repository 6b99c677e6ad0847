// bridge (no test in the original): one subnet 192.168.1.0/24 over nodes
// (host net 1) and testers (host net 2), joined at L2 by vm-201's br1.
// vm-201 NATs the subnet; nodes and testers reach it as their IPv4 default
// (the original's on-link default could not reach the host, see notes).
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2, ntesters: 2 }

export const checks: TopologyChecks = {
  reach: [
    // across vm-201's bridge, both ways
    [1, '192.168.1.221'],
    [221, '192.168.1.1'],
    [2, '192.168.1.222'],
    // the bridge VM itself, on br1
    [222, '192.168.1.201'],
  ],
  external: [
    [1, 'eth1'],
    [221, 'eth1'],
  ],
  unreachable: [
    // Nothing has a 192.168.2.x address in this topology (the testers' host net 2 carries subnet 1).
    [1, '1000::1:192.168.2.221'],
    [221, '1000::1:192.168.2.201'],
  ],
}
