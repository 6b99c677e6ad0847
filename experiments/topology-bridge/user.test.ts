// The bridge topology in user mode: skipped, it cannot work there.
//
// In user mode nets >= 1 are QEMU socket multicast nets, and such a net
// delivers every frame to its sender too (seen with tcpdump -Q in on a
// node: its own ARP requests come back in). vm-201's br1 then forwards each
// frame out of eth1/eth2, gets it back on the same port, learns the MACs of
// the testers on the nodes' port, and floods broadcasts round eth1 -> eth2 ->
// eth1 forever: a storm of thousands of frames a second (90% softirq in
// vm-201), and the pings across the bridge fail. An L2 bridge between two
// nets inside a VM needs nets that do not echo (bridge mode), or a filter
// of the echoed frames in the VM (ebtables/nft bridge rules), which the
// topology data cannot express. See bridge.test.ts for the topology's test.
import { test } from 'xcluster/vitest'

test.skip('bridge in user mode: the multicast nets echo frames to their sender, so the bridge in vm-201 loops', () => {})
