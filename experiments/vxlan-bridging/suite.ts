// VXLAN bridging between two Linux switches over a routed underlay: each
// switch (vm-201, vm-202) is a VLAN-aware bridge with an access port in
// VLAN 10 and one in VLAN 20, and a VXLAN device per VLAN (VNI 10010, 10020)
// to the other switch's address, which is one router (vm-203) away. Both
// VLANs use the same prefix, and the same addresses: 10.0.0.1 on the left,
// 10.0.0.2 on the right, in each. Each VLAN reaches across, to its own host
// only; no frame crosses from one VLAN to the other, and an address that
// only VLAN 20 has is not reached from VLAN 10.
//
// Every wire here is a point-to-point link (`links`): in user mode a link is
// unicast UDP between its ends, which, unlike a multicast net, does not give
// a switch back its own frames (on which a bridge in a VM loops).
//
//   VLAN 10: vm-001 (10.0.0.1) --+                      +-- vm-003 (10.0.0.2, .12)
//                              vm-201 -- vm-203 -- vm-202
//   VLAN 20: vm-002 (10.0.0.1) --+   (the underlay)     +-- vm-004 (10.0.0.2, .22)
import { expect, test } from 'xcluster/vitest'
import type { RunningCluster } from 'xcluster'
import { modeRuns, pcapPackets } from '../../fixtures/experiment.ts'

/** Each host: its switch, its VLAN and its addresses on that VLAN. */
const HOSTS = {
  1: { vlan: 10, addrs: ['10.0.0.1'] },
  2: { vlan: 20, addrs: ['10.0.0.1'] },
  3: { vlan: 10, addrs: ['10.0.0.2', '10.0.0.12'] },
  4: { vlan: 20, addrs: ['10.0.0.2', '10.0.0.22'] },
} as const
/** Host `vm`'s MAC on its link to its switch. */
const macOf = (cluster: RunningCluster, vm: number): string => cluster.vm(vm).nics[1].mac

/** Switch `sw`'s setup: a VLAN-aware bridge, ports eth1 (VLAN 10) and eth2 (VLAN 20), a VXLAN device per VLAN to `remote`. */
function switchSetup(local: string, remote: string, underlay: string, via: string): string {
  const port = (dev: string, vid: number): string => `ip link set ${dev} master br0 && bridge vlan add dev ${dev} vid ${vid} pvid untagged && bridge vlan del dev ${dev} vid 1`
  return [
    `ip route add ${underlay} via ${via}`,
    'ip link add br0 type bridge vlan_filtering 1 && ip link set br0 up',
    ...[10, 20].map((vid) => `ip link add vx${vid} type vxlan id 100${vid} local ${local} remote ${remote} dstport 4789 && ip link set vx${vid} up`),
    port('eth1', 10), port('eth2', 20), port('vx10', 10), port('vx20', 20),
  ].join(' && ')
}

/** Frames from `fromVm`'s MAC that `vm` sees on its VLAN port while `traffic` runs. */
async function framesSeen(cluster: RunningCluster, vm: number, fromVm: number, traffic: () => Promise<unknown>): Promise<number> {
  await cluster.vm(vm).startCapture('eth1', `ether src ${macOf(cluster, fromVm)}`)
  await traffic()
  return pcapPackets(await cluster.vm(vm).stopCapture('eth1'))
}

export function vxlanSuite(mode: 'user' | 'bridge'): void {
  if (!modeRuns(mode, `vxlan-bridging-${mode}: two VLANs with one prefix across a routed underlay, kept apart`)) return
  test.override('clusterOptions', { scope: 'file' }, {
    name: `vxlan-${mode}`,
    network: mode,
    nvm: 4,
    nrouters: 3,
    netsVm: [0],
    netsRouter: [0],
    // The access ports (nets 200-203: eth1, eth2 of each switch, eth1 of each host), then the underlay (204, 205: eth3 of each switch).
    links: [[1, 201], [2, 201], [3, 202], [4, 202], [201, 203], [202, 203]],
    // Only the underlay is addressed.
    stdAddresses: [204, 205],
    // iproute2's bridge and vxlan, tcpdump; nothing here needs more than the least memory.
    tools: true,
    mem: 80,
  })

  test('each VLAN reaches across the underlay to its own host, with the same addresses in both', async ({ cluster }) => {
    await cluster.vm(203).succeed('sysctl -qw net.ipv4.ip_forward=1')
    await cluster.vm(201).succeed(switchSetup('192.168.204.201', '192.168.205.202', '192.168.205.0/24', '192.168.204.203'))
    await cluster.vm(202).succeed(switchSetup('192.168.205.202', '192.168.204.201', '192.168.204.0/24', '192.168.205.203'))
    for (const [vm, h] of Object.entries(HOSTS)) {
      // The VXLAN header takes 50 of the underlay's 1500 bytes.
      await cluster.vm(Number(vm)).succeed(['ip link set eth1 mtu 1450', ...h.addrs.map((a) => `ip addr add ${a}/24 dev eth1`)].join(' && '))
    }
    // vm-001 (VLAN 10) and vm-002 (VLAN 20) both ask for 10.0.0.2: each gets its own VLAN's host.
    for (const [from, to] of [[1, 3], [2, 4]]) {
      await cluster.vm(from).waitUntilSucceeds('ping -c1 -W2 10.0.0.2', { what: `10.0.0.2 in VLAN ${HOSTS[from as 1 | 2].vlan}`, budget: 'default' })
      expect(await cluster.vm(from).succeed('ip neigh show 10.0.0.2 dev eth1')).toContain(`lladdr ${macOf(cluster, to)}`)
    }
    // The switches learned the far hosts behind their VXLAN devices, at the other switch's address.
    const fdb = await cluster.vm(201).succeed('bridge fdb show br br0')
    expect(fdb).toContain(`${macOf(cluster, 3)} dev vx10 vlan 10 master br0`)
    expect(fdb).toContain(`${macOf(cluster, 4)} dev vx20 vlan 20 master br0`)
    expect(await cluster.vm(201).succeed('bridge fdb show dev vx10')).toContain(`${macOf(cluster, 3)} dst 192.168.205.202 self`)
  })

  test('the VXLAN packets are routed by vm-203: one underlay hop between the switches', async ({ cluster }) => {
    expect(await cluster.vm(201).succeed('ip route get 192.168.205.202')).toMatch(/via 192\.168\.204\.203 dev eth3/)
    // vm-203 gets the requests from vm-201 (eth1) and the replies from vm-202 (eth2), each in a VXLAN packet.
    const rx = async (): Promise<number[]> => (await cluster.vm(203).succeed('cat /sys/class/net/eth1/statistics/rx_packets /sys/class/net/eth2/statistics/rx_packets')).trim().split('\n').map(Number)
    const before = await rx()
    await cluster.vm(1).succeed('ping -c10 -i0.2 -W2 10.0.0.2')
    const after = await rx()
    expect(after[0] - before[0]).toBeGreaterThanOrEqual(10)
    expect(after[1] - before[1]).toBeGreaterThanOrEqual(10)
  })

  test('no frame crosses from one VLAN to the other, and what only VLAN 20 has is not reached from VLAN 10', async ({ cluster }) => {
    // vm-001 (VLAN 10) pings its peer and asks for 10.0.0.22 (VLAN 20's, broadcast ARP): its frames reach VLAN 10's far host only.
    const traffic = async (): Promise<void> => {
      await cluster.vm(1).succeed('ip neigh flush dev eth1 && ping -c3 -i0.2 -W2 10.0.0.2')
      await cluster.vm(1).fail('ping -c2 -W2 10.0.0.22')
    }
    expect(await framesSeen(cluster, 4, 1, traffic)).toBe(0)
    expect(await framesSeen(cluster, 2, 1, traffic)).toBe(0)
    // The control: the same traffic is seen in VLAN 10, across the underlay.
    expect(await framesSeen(cluster, 3, 1, traffic)).toBeGreaterThanOrEqual(3)
    // And the other way: VLAN 20 does not reach VLAN 10's own address.
    await cluster.vm(2).fail('ping -c2 -W2 10.0.0.12')
    expect(await cluster.vm(2).succeed('ip neigh show 10.0.0.12 dev eth1')).not.toContain('lladdr')
  })
}
