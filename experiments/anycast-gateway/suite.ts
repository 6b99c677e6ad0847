// An anycast gateway: two routers (vm-201, vm-202) bridge one LAN between
// them (their link, net 202) and both are its gateway with the same address
// and MAC (10.0.0.254, fd00:10::fe, 02:00:ca:fe:00:01). The host vm-001 has a
// link to each (an active-backup bond, its link to vm-201 preferred) and
// reaches vm-221 beyond the routers through whichever router it is attached
// to: the first router in the path takes the frames to the shared MAC, the
// other forwards none of them. When its link to vm-201 goes down the host
// goes on through vm-202 without asking for its gateway again (same address,
// same MAC), and comes back when the link returns.
//
//   vm-001 ==(bond: net 200 to vm-201, net 201 to vm-202)
//   vm-201 -- net 202 (the LAN between the routers) -- vm-202
//   vm-201, vm-202 -- net 4 -- vm-221
import { expect, test } from 'xcluster/vitest'
import type { RunningCluster } from 'xcluster'
import { modeRuns, pcapPackets } from '../../fixtures/experiment.ts'

const MAC = '02:00:ca:fe:00:01'
/** A host's broadcast question for its gateway: an ARP request for 10.0.0.254, a neighbour solicitation to fd00:10::fe's solicited-node group. */
const ASKS = '(ether broadcast and arp and arp[6:2] = 1 and arp[24:4] = 0x0a0000fe) or (icmp6 and ip6[40] = 135 and ip6 dst ff02::1:ff00:fe)'

/** A router's setup: a bridge with the host's port and the link to the other router, the anycast gateway on it, counters of the host's forwarded packets. */
function routerSetup(cluster: RunningCluster, vm: 201 | 202): string {
  const hostPort = cluster.vm(vm).link(cluster.linkNet(1, vm)).ifname
  const peerPort = cluster.vm(vm).link(cluster.linkNet(201, 202)).ifname
  return [
    'sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1',
    // No multicast snooping: it would send a neighbour solicitation for the host only where the host's last MLD report
    // came from, which after a move is the other router (IPv6 to the host was lost after it came back, IPv4 was not).
    `ip link add br0 address ${MAC} type bridge mcast_snooping 0 && ip link set br0 addrgenmode none`,
    `ip link set ${hostPort} master br0 && ip link set ${peerPort} master br0`,
    // A link-local address of each router's own on br0 (its MAC, and so its EUI-64 one, is the shared one): without it the
    // routers solicited the host from the shared fd00:10::fe, and beside another experiment (as CI's second shard runs) the
    // host's IPv6 was lost after it came back to vm-201, and stayed lost (0 of 10 pings 4 s later; vm-201's neighbour entry
    // for it INCOMPLETE, vm-202's FAILED) in 3 of 4 runs, in both modes. With it: 3 of 3 such runs passed.
    `ip addr add 10.0.0.254/24 dev br0 && ip -6 addr add fd00:10::fe/64 dev br0 nodad && ip -6 addr add fe80::${vm}/64 dev br0 nodad && ip link set br0 up`,
    "nft add table inet anycast && nft add chain inet anycast counted '{ type filter hook forward priority 0; }'",
    'nft add rule inet anycast counted ip saddr 10.0.0.1 counter && nft add rule inet anycast counted ip6 saddr fd00:10::1 counter',
  ].join(' && ')
}

/** Packets from the host (IPv4, IPv6) router `vm` has forwarded. */
async function forwarded(cluster: RunningCluster, vm: number): Promise<[number, number]> {
  const out = await cluster.vm(vm).succeed('nft list chain inet anycast counted')
  const n = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN)
  return [n(/ip saddr 10\.0\.0\.1 counter packets (\d+)/), n(/ip6 saddr fd00:10::1 counter packets (\d+)/)]
}

/** Five pings to vm-221 in each family from the host; none lost, none duplicated. */
async function pingBeyond(cluster: RunningCluster): Promise<void> {
  for (const cmd of ['ping -c5 -i0.2 -W2 192.168.4.221', 'ping -6 -c5 -i0.2 -W2 1000::1:192.168.4.221']) {
    const out = await cluster.vm(1).succeed(cmd)
    expect(out).toMatch(/5 packets transmitted, 5 received/)
    expect(out).not.toContain('DUP!')
  }
}

/** Wait (budget `routeConvergence`) until the host reaches vm-221 in both families: after a move, the routers' bridges learn where the host is now from its first frames. */
async function reachesBeyond(cluster: RunningCluster, through: string): Promise<void> {
  await cluster.vm(1).waitUntilSucceeds('ping -c1 -W2 192.168.4.221 && ping -6 -c1 -W2 1000::1:192.168.4.221', { what: `vm-221 through ${through}`, budget: 'routeConvergence' })
}

/** Which of the host's bond ports is active. */
const activePort = async (cluster: RunningCluster): Promise<string> => (await cluster.vm(1).succeed('cat /sys/class/net/up0/bonding/active_slave')).trim()

export function anycastSuite(mode: 'user' | 'bridge'): void {
  if (!modeRuns(mode, `anycast-gateway-${mode}: one gateway address and MAC on two routers; the host goes through either`)) return
  test.override('clusterOptions', { scope: 'file' }, {
    name: `anycast-${mode}`,
    network: mode,
    nvm: 1,
    nrouters: 2,
    ntesters: 1,
    netsVm: [0],
    netsRouter: [0, 4],
    netsTester: [0, 4],
    // The host's two links and the routers' LAN link: bridge and bond ports, without addresses; net 4 (beyond) has its std addresses.
    links: [[1, 201], [1, 202], [201, 202]],
    stdAddresses: [4],
    tools: true,
    mem: 80,
  })

  test('the host reaches beyond through vm-201, whose gateway has the same address and MAC as vm-202\'s; vm-202 forwards none of it', async ({ cluster }) => {
    await cluster.vm(201).succeed(routerSetup(cluster, 201))
    await cluster.vm(202).succeed(routerSetup(cluster, 202))
    await cluster.vm(221).succeed('ip route add 10.0.0.0/24 via 192.168.4.201 && ip -6 route add fd00:10::/64 via 1000::1:192.168.4.201')
    const [toA, toB] = [cluster.vm(1).link(cluster.linkNet(1, 201)).ifname, cluster.vm(1).link(cluster.linkNet(1, 202)).ifname]
    await cluster.vm(1).succeed([
      // Named up0: loading the bonding module makes a bond0 of its own.
      'ip link add up0 type bond mode active-backup miimon 100',
      `ip link set ${toA} down && ip link set ${toA} master up0 && ip link set ${toB} down && ip link set ${toB} master up0`,
      `ip link set up0 type bond primary ${toA} && ip link set up0 up`,
      'ip addr add 10.0.0.1/24 dev up0 && ip -6 addr add fd00:10::1/64 dev up0 nodad',
      'ip route add 192.168.4.0/24 via 10.0.0.254 && ip -6 route add 1000::1:192.168.4.0/120 via fd00:10::fe',
    ].join(' && '))
    expect(await activePort(cluster)).toBe(toA)
    for (const vm of [201, 202]) expect(await cluster.vm(vm).succeed('cat /sys/class/net/br0/address')).toBe(`${MAC}\n`)
    await reachesBeyond(cluster, 'vm-201')
    await pingBeyond(cluster)
    expect(await cluster.vm(1).succeed('ip neigh show 10.0.0.254')).toContain(`lladdr ${MAC}`)
    expect(await cluster.vm(1).succeed('ip -6 neigh show fd00:10::fe')).toContain(`lladdr ${MAC}`)
    const [a, b] = [await forwarded(cluster, 201), await forwarded(cluster, 202)]
    expect(a[0]).toBeGreaterThanOrEqual(5)
    expect(a[1]).toBeGreaterThanOrEqual(5)
    // The must-not: the other router saw the host's frames to the shared MAC (the LAN floods nothing to a known MAC) and routed none.
    expect(b).toEqual([0, 0])
  })

  test('its link to vm-201 goes down: the host goes on through vm-202 without asking for its gateway again', async ({ cluster }) => {
    const before201 = await forwarded(cluster, 201)
    await cluster.vm(1).startCapture('up0', ASKS)
    await cluster.vm(1).link(cluster.linkNet(1, 201)).down()
    await cluster.vm(1).waitUntil(async () => expect(await activePort(cluster)).toBe(cluster.vm(1).link(cluster.linkNet(1, 202)).ifname), { what: 'the bond on its link to vm-202', timeout: 10_000 })
    await reachesBeyond(cluster, 'vm-202')
    await pingBeyond(cluster)
    const asked = pcapPackets(await cluster.vm(1).stopCapture('up0'))
    const [a, b] = [await forwarded(cluster, 201), await forwarded(cluster, 202)]
    expect(b[0]).toBeGreaterThanOrEqual(5)
    expect(b[1]).toBeGreaterThanOrEqual(5)
    expect(a).toEqual(before201)
    // Same address, same MAC: the host never broadcast a question for its gateway (ARP, or IPv6's neighbour solicitation).
    expect(asked).toBe(0)
    // The control: a host that forgets its gateway does ask, and the capture sees it. Twice: in a CI run one round saw
    // one ask only (not pinned down; a router's own traffic may teach the host its gateway's address between flush and ping).
    await cluster.vm(1).startCapture('up0', ASKS)
    await cluster.vm(1).succeed('for i in 1 2; do ip -4 neigh flush dev up0 && ip -6 neigh flush dev up0 && ping -c1 -W2 192.168.4.221 && ping -6 -c1 -W2 1000::1:192.168.4.221 || exit 1; done')
    expect(pcapPackets(await cluster.vm(1).stopCapture('up0'))).toBeGreaterThanOrEqual(2)
  })

  test('the link returns: the host is back on vm-201, and goes through it again', async ({ cluster }) => {
    await cluster.vm(1).link(cluster.linkNet(1, 201)).up()
    const toA = cluster.vm(1).link(cluster.linkNet(1, 201)).ifname
    await cluster.vm(1).waitUntil(async () => expect(await activePort(cluster)).toBe(toA), { what: 'the bond back on its link to vm-201', timeout: 10_000 })
    await reachesBeyond(cluster, 'vm-201 again')
    const before = await forwarded(cluster, 201)
    await pingBeyond(cluster)
    const after = await forwarded(cluster, 201)
    expect(after[0] - before[0]).toBeGreaterThanOrEqual(5)
    expect(after[1] - before[1]).toBeGreaterThanOrEqual(5)
  })
}
