// dual-path as the original's test ran it (__ntesters=2): the effective
// base_test over path A (net1 - 201 - net3 - 203 - net2), then path B
// (net4 - 202 - net5 - 204 - net6) between the nodes' and testers' second
// NICs. Only the path-A routers NAT, so the host is reached through eth1.
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2, ntesters: 2 }

export const checks: TopologyChecks = {
  reach: [
    // base_test, path A
    [1, '192.168.2.221'],
    [221, '192.168.1.2'],
    // path B
    [1, '192.168.6.221'],
    [1, '192.168.6.222'],
    [221, '192.168.4.1'],
    [222, '192.168.4.1'],
  ],
  // Path B (202, 204) has no NAT: external access is through path A only.
  external: [
    [1, 'eth1'],
    [221, 'eth1'],
  ],
  unreachable: [
    // The paths are separate: the path-A routers have no IPv6 route to path B's transit net 5
    // (and no router has an IPv6 default route).
    [1, '1000::1:192.168.5.204'],
    [221, '1000::1:192.168.5.202'],
  ],
}
