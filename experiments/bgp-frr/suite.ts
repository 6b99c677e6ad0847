// BGP with FRR from Debian's package: a node (AS 65001) and a tester
// (AS 65221) peer over eBGP with two routers (AS 65201, 65202), each
// announcing a /32 of its own. vm-202 prepends its AS twice, so the path
// through vm-201 is preferred. When vm-201's link to the tester's net goes
// down, traffic between the two prefixes moves to vm-202 (the node at once,
// as vm-201 withdraws; the tester when its session's hold time of 9 s runs
// out), and it moves back when the link returns. Keepalives every 3 s, hold
// 9 s: a hold time of 3 s let sessions drop on a loaded machine (two
// clusters of four FRR VMs booting at once on 2 cores, under TCG).
//
//   vm-001 -- net 1 -- vm-201 -- net 2 -- vm-221
//                  \-- vm-202 --/
import { expect, test } from 'xcluster/vitest'
import type { RunningCluster } from 'xcluster'
import { beside, modeRuns, secs, timed } from '../../fixtures/experiment.ts'
import { startFrr } from '../../fixtures/frr.ts'

const ovl = (vm: string): string => beside(import.meta.url, `./overlays/${vm}`)

/** The next hop of `prefix` in `vm`'s kernel table when BGP put it there, else ''. */
async function bgpVia(cluster: RunningCluster, vm: number, prefix: string): Promise<string> {
  const out = await cluster.vm(vm).run(`ip -4 route show ${prefix} proto bgp`)
  return /via (\S+)/.exec(out)?.[1] ?? ''
}

/** Wait (within `budget`) until BGP has put `prefix` in `vm`'s kernel table via `hop`. */
async function routedVia(cluster: RunningCluster, vm: number, prefix: string, hop: string, budget: string): Promise<void> {
  await cluster.vm(vm).waitUntil(async () => expect(await bgpVia(cluster, vm, prefix)).toBe(hop), { what: `the BGP route to ${prefix} via ${hop}`, budget })
}

/** Packets vm-20x sent on its net-2 NIC (eth2). */
async function txPackets(cluster: RunningCluster, vm: number): Promise<number> {
  return Number((await cluster.vm(vm).run('cat /sys/class/net/eth2/statistics/tx_packets')).trim())
}

const ping = 'ping -c1 -W1 -I 10.1.0.1 10.2.0.1'

export function bgpSuite(mode: 'user' | 'bridge'): void {
  if (!modeRuns(mode, `bgp-frr-${mode}: eBGP between a node, two routers and a tester; failover on link down`)) return
  test.override('clusterOptions', { scope: 'file' }, {
    name: `bgp-${mode}`,
    network: mode,
    nvm: 1,
    nrouters: 2,
    ntesters: 1,
    netsVm: [0, 1],
    netsRouter: [0, 1, 2],
    netsTester: [0, 2],
    packages: ['frr'],
    overlaysVm: { 1: [ovl('vm-001')], 201: [ovl('vm-201')], 202: [ovl('vm-202')], 221: [ovl('vm-221')] },
  })

  test('the sessions come up and each end learns the other\'s prefix through vm-201', async ({ cluster }) => {
    // FRR's zebra, staticd and bgpd, with each VM's frr.conf from its overlay.
    await Promise.all([201, 202].map((n) => cluster.vm(n).succeed('sysctl -qw net.ipv4.ip_forward=1')))
    await Promise.all([1, 201, 202, 221].map((n) => startFrr(cluster.vm(n), ['bgpd'])))
    await routedVia(cluster, 1, '10.2.0.1', '192.168.1.201', 'bgpSession')
    await routedVia(cluster, 221, '10.1.0.1', '192.168.2.201', 'bgpSession')
    const summary = JSON.parse(await cluster.vm(201).run("vtysh -c 'show bgp ipv4 unicast summary json'"))
    const peers = Object.entries(summary.peers as Record<string, { state: string; pfxRcd: number }>)
    expect(peers.map(([ip, p]) => `${ip} ${p.state} ${p.pfxRcd}`).sort()).toEqual(['192.168.1.1 Established 1', '192.168.2.221 Established 1'])
    // vm-202's announcement is there too, as the longer path.
    const paths = async (): Promise<string[]> => {
      const route = JSON.parse(await cluster.vm(1).run("vtysh -c 'show bgp ipv4 unicast 10.2.0.1/32 json'")) as { paths?: Array<{ aspath: { string: string } }> }
      return (route.paths ?? []).map((p) => p.aspath.string).sort()
    }
    await cluster.vm(1).waitUntil(async () => expect(await paths()).toEqual(['65201 65221', '65202 65202 65202 65221']), { what: 'both paths to 10.2.0.1 in its BGP table', budget: 'bgpSession' })
  })

  test('the node reaches the tester\'s prefix, and the packets cross vm-201', async ({ cluster }) => {
    const before = await txPackets(cluster, 201)
    expect(await cluster.vm(1).run('ping -c5 -i0.2 -W2 -I 10.1.0.1 10.2.0.1')).toMatch(/5 (packets )?received/)
    expect(await txPackets(cluster, 201)).toBeGreaterThanOrEqual(before + 5)
  })

  test('vm-201\'s link to net 2 goes down: traffic reroutes through vm-202 within the hold time', async ({ cluster, annotate }) => {
    await cluster.vm(201).link(2).down()
    // The hold time is 9 s: within budget routeConvergence (30 s nominal, scaled for this machine) or the test fails.
    const { ms } = await timed(async () => {
      await cluster.vm(1).waitUntilSucceeds(ping, { budget: 'routeConvergence', interval: 100 })
      await routedVia(cluster, 221, '10.1.0.1', '192.168.2.202', 'routeConvergence')
    })
    await annotate(`reroute after link down: ${secs(ms)}`)
    expect(await bgpVia(cluster, 1, '10.2.0.1')).toBe('192.168.1.202')
    const before = await txPackets(cluster, 202)
    expect(await cluster.vm(1).run('ping -c5 -i0.2 -W2 -I 10.1.0.1 10.2.0.1')).toMatch(/5 (packets )?received/)
    expect(await txPackets(cluster, 202)).toBeGreaterThanOrEqual(before + 5)
  })

  test('the link comes back: the sessions re-establish and the path through vm-201 is preferred again', async ({ cluster, annotate }) => {
    await cluster.vm(201).link(2).up()
    const { ms } = await timed(async () => {
      await routedVia(cluster, 1, '10.2.0.1', '192.168.1.201', 'routeConvergence')
      await routedVia(cluster, 221, '10.1.0.1', '192.168.2.201', 'routeConvergence')
    })
    await annotate(`back through vm-201 after link up: ${secs(ms)}`)
    await cluster.vm(1).succeed(ping)
  })
}
