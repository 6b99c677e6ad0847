// OSPFv2 with FRR (Debian's): three routers, an adjacency on a broadcast
// LAN and two on point-to-point links, each router's loopback learned by the
// others, and the shortest path following the link costs: from the host
// vm-001 to vm-203's loopback through vm-202 (cost 10 + 10) rather than over
// the direct link (cost 100). When the cheap link between vm-202 and vm-203
// goes down the traffic moves to the direct link, and back when it returns.
// vm-203 has an address it does not announce: nobody reaches it. The file
// needs nothing but xcluster (the README shows it whole, and a new project's
// tsc checks it); bridge.test.ts skips, saying why, where bridges cannot be made.
//
//   vm-001 -- net 1 -- vm-201 == net 2 (LAN, cost 10) == vm-202
//                        |                                |
//               link: net 201 (cost 100)        link: net 200 (cost 10)
//                        |                                |
//                        +------------ vm-203 ------------+
import { expect, test } from 'xcluster/vitest'
import type { RunningCluster, RunningVm } from 'xcluster'

/** Each router's OSPF interfaces: net, network type and cost (nets 200 and 201 are the point-to-point links, in the order of `links`). */
const OSPF: Record<number, Array<[net: number, type: 'broadcast' | 'point-to-point', cost: number]>> = {
  201: [[2, 'broadcast', 10], [201, 'point-to-point', 100]],
  202: [[2, 'broadcast', 10], [200, 'point-to-point', 10]],
  203: [[200, 'point-to-point', 10], [201, 'point-to-point', 100]],
}

/** vm-20x's frr.conf: its loopback 10.0.0.20x and its links in area 0 (not net 0, the harness's), vm-201's host LAN passive. */
function ospfConf(vm: RunningVm): string {
  const iface = (net: number, lines: string[]): string => [`interface ${vm.link(net).ifname}`, ...lines.map((l) => ` ${l}`), 'exit'].join('\n')
  return [
    'frr defaults traditional',
    `hostname ${vm.name}`,
    ['interface lo', ` ip address 10.0.0.${vm.num}/32`, ' ip ospf area 0', 'exit'].join('\n'),
    // Hello 2 s, dead 8 s: a lost neighbour is seen within seconds, and a loaded 2-core TCG machine does not drop adjacencies.
    ...(OSPF[vm.num] ?? []).map(([net, type, cost]) => iface(net, ['ip ospf area 0', `ip ospf network ${type}`, `ip ospf cost ${cost}`, 'ip ospf hello-interval 2', 'ip ospf dead-interval 8'])),
    ...(vm.num === 201 ? [iface(1, ['ip ospf area 0', 'ip ospf passive'])] : []),
    ['router ospf', ` ospf router-id 10.0.0.${vm.num}`, 'exit'].join('\n'),
  ].join('\n')
}

/**
 * Start FRR in `vm` with `config` as its frr.conf: zebra, staticd and ospfd
 * started directly, each waited for on its vty socket (budget `daemon`), then
 * the configuration applied with vtysh. Not Debian's frrinit.sh and watchfrr:
 * in one VM under TCG they took 29-35 s until ospfd answered, this about 5 s
 * (measured). The other FRR experiments share it as fixtures/frr.ts's startFrr.
 */
async function startOspf(vm: RunningVm, config: string): Promise<void> {
  const daemons = ['zebra', 'staticd', 'ospfd']
  await vm.succeed(`cat > /etc/frr/frr.conf <<'XC_EOF'\n${config}\nXC_EOF`)
  // zebra first (-s: a netlink buffer for many routes); the others connect to it as it comes up.
  await vm.succeed(['mkdir -p /run/frr && chown frr:frr /run/frr', '/usr/lib/frr/zebra -d -A 127.0.0.1 -s 90000000', '/usr/lib/frr/staticd -d -A 127.0.0.1', '/usr/lib/frr/ospfd -d -A 127.0.0.1'].join(' && '), { timeout: 120_000 })
  for (const d of daemons) await vm.waitForFile(`/run/frr/${d}.vty`, { budget: 'daemon', what: `FRR's ${d} up (its vty socket)` })
  await vm.succeed('vtysh -b', { timeout: 120_000 })
}

interface Neighbour { state: string; ifaceName: string }

/** vm's OSPF neighbours: router id -> "state on interface" (FRR 8.4's JSON: one list per neighbour). */
async function neighbours(vm: RunningVm): Promise<Record<string, string>> {
  const j = JSON.parse(await vm.succeed("vtysh -c 'show ip ospf neighbor json'")) as { neighbors: Record<string, Neighbour[]> }
  return Object.fromEntries(Object.entries(j.neighbors).map(([id, [n]]) => [id, `${n?.state} on ${n?.ifaceName.split(':')[0]}`]))
}

/** The hops of a traceroute from vm-001 to `to` (busybox's: numeric, one probe per hop). */
async function hops(cluster: RunningCluster, to: string): Promise<string[]> {
  const out = await cluster.vm(1).succeed(`traceroute -n -q 1 -w 1 -m 6 ${to} 2>&1`, { timeout: 60_000 })
  return out.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1] ?? '').filter(Boolean)
}

export function ospfSuite(mode: 'user' | 'bridge'): void {
  test.override('clusterOptions', { scope: 'file' }, {
    name: `ospf-${mode}`,
    network: mode,
    nvm: 1,
    nrouters: 3,
    nets: { 1: [0, 1], 201: [0, 1, 2], 202: [0, 2], 203: [0] },
    links: [[202, 203], [201, 203]],
    packagesRole: { router: ['frr'] },
    // FRR's zebra, staticd and ospfd leave 25 MiB of the 61 a 96 MiB VM has (measured): the routers need no more.
    mem: 96,
  })

  test('adjacencies come up (the LAN with a DR, the point-to-point links without), and every router learns every loopback', async ({ cluster }) => {
    const routers = [201, 202, 203].map((n) => cluster.vm(n))
    await cluster.vm(1).succeed('ip route add 10.0.0.0/8 via 192.168.1.201')
    await Promise.all(routers.map(async (vm) => {
      await vm.succeed(`sysctl -qw net.ipv4.ip_forward=1 && ip link add hidden0 type dummy && ip addr add 10.99.0.${vm.num}/32 dev hidden0 && ip link set hidden0 up`)
      await startOspf(vm, ospfConf(vm))
    }))
    const want: Record<number, Record<string, RegExp>> = {
      201: { '10.0.0.202': /^Full\/(DR|Backup) on eth2$/, '10.0.0.203': /^Full\/- on eth3$/ },
      202: { '10.0.0.201': /^Full\/(DR|Backup) on eth1$/, '10.0.0.203': /^Full\/- on eth2$/ },
      203: { '10.0.0.202': /^Full\/- on eth1$/, '10.0.0.201': /^Full\/- on eth2$/ },
    }
    for (const vm of routers) {
      await vm.waitUntil(async () => {
        const n = await neighbours(vm)
        const wanted = want[vm.num] ?? {}
        expect(Object.keys(n).sort()).toEqual(Object.keys(wanted).sort())
        for (const [id, re] of Object.entries(wanted)) expect(n[id]).toMatch(re)
      }, { what: 'its OSPF adjacencies Full', budget: 'ospfAdjacency' })
    }
    // The interfaces are of the types configured.
    const types = JSON.parse(await cluster.vm(201).succeed("vtysh -c 'show ip ospf interface json'")).interfaces as Record<string, { networkType: string }>
    expect([types.eth2?.networkType, types.eth3?.networkType]).toEqual(['BROADCAST', 'POINTOPOINT'])
    for (const vm of routers) {
      for (const other of [201, 202, 203].filter((n) => n !== vm.num)) {
        await vm.waitUntilSucceeds(`ip route show 10.0.0.${other} proto ospf | grep -q via`, { what: `vm-${other}'s loopback learned over OSPF`, budget: 'routeConvergence' })
      }
    }
    expect(await cluster.vm(1).succeed('ping -c2 -W2 10.0.0.203')).toMatch(/2 (packets )?received/)
  })

  test('the shortest path follows the costs: vm-001 to vm-203 through vm-202 (20), not over the direct link (100); an address nobody announces is not reached', async ({ cluster }) => {
    // Waited for: the LAN's adjacency comes up last (its DR election waits a dead interval), and SPF runs are spaced out while the others come up.
    await cluster.vm(1).waitUntil(async () => expect(await hops(cluster, '10.0.0.203')).toEqual(['192.168.1.201', '192.168.2.202', '10.0.0.203']), {
      what: 'the path to 10.0.0.203 through vm-202', budget: 'routeConvergence',
    })
    const route = JSON.parse(await cluster.vm(201).succeed("vtysh -c 'show ip route 10.0.0.203/32 json'"))['10.0.0.203/32'][0]
    expect(route.protocol).toBe('ospf')
    expect(route.nexthops.map((h: { ip: string }) => h.ip)).toEqual(['192.168.2.202'])
    // The must-not-reach: vm-203's 10.99.0.203 is on a device OSPF does not know.
    expect(await cluster.vm(201).succeed('ip route show 10.99.0.203')).toBe('')
    await cluster.vm(1).fail('ping -c1 -W2 10.99.0.203')
  })

  test('the cheap link vm-202 - vm-203 goes down: traffic moves to the direct link, and back when it returns', async ({ cluster, annotate }) => {
    await cluster.vm(202).link(cluster.linkNet(202, 203)).down()
    const t0 = Date.now()
    await cluster.vm(1).waitUntil(async () => expect(await hops(cluster, '10.0.0.203')).toEqual(['192.168.1.201', '10.0.0.203']), {
      what: 'the path to 10.0.0.203 over the direct link', budget: 'routeConvergence',
    })
    const down = Date.now() - t0
    await cluster.vm(202).link(cluster.linkNet(202, 203)).up()
    const t1 = Date.now()
    await cluster.vm(1).waitUntil(async () => expect(await hops(cluster, '10.0.0.203')).toEqual(['192.168.1.201', '192.168.2.202', '10.0.0.203']), {
      what: 'the path to 10.0.0.203 through vm-202 again', budget: 'ospfAdjacency',
    })
    const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
    await annotate(`rerouted ${secs(down)} after the link went down, back ${secs(Date.now() - t1)} after it came up`)
  })
}
