// multihop as the original's test ran it (__ntesters=2): the effective
// base_test across the three-router chain, plus the transit nets, which are
// routed end to end here (the original left them unrouted).
import type { TopologyChecks } from 'xcluster/vitest'

export const options = { nvm: 2, ntesters: 2 }

export const checks: TopologyChecks = {
  reach: [
    // base_test: three router hops
    [1, '192.168.2.221'],
    [221, '192.168.1.2'],
    // the far transit nets (the fix)
    [1, '192.168.4.203'],
    [221, '192.168.3.201'],
  ],
  // 201 NATs net 1 and 203 net 2, each the first hop of its side.
  external: [
    [1, 'eth1'],
    [221, 'eth1'],
  ],
  unreachable: [
    // No node on the testers' net: vm-203 is on net 2 and gets no ARP answer.
    [1, '192.168.2.1'],
    // No router has an IPv6 default route: an unknown IPv6 net is unreachable.
    [1, '1000::1:192.168.5.1'],
  ],
}
