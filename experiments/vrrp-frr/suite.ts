// VRRPv3 with FRR's own vrrpd (Debian's frr), IPv4 and IPv6: two routers
// share a virtual gateway on the LAN of the host vm-001 (VRID 5:
// 192.168.1.100 and 1000::1:192.168.1.100, the virtual MACs 00:00:5e:00:01:05
// and 00:00:5e:00:02:05 on macvlan devices, as FRR wants them) and one on
// the net of the host beyond, vm-221 (VRID 6). vm-201 is master by priority.
// The hosts ping each other (IPv4 and IPv6, ten a second) while the master's
// LAN link goes down (vm-202 takes over), comes back (vm-201 takes back,
// preempting), and while vm-202's priority is raised above vm-201's (it
// preempts); the pings lost at each step are counted and bounded. A router
// whose LAN link is down ignores its dead connected route
// (ignore_routes_with_linkdown) and sends what it gets for the LAN to the
// other router.
//
//   vm-001 -- net 1 (VRID 5) -- vm-201, vm-202 -- net 2 (VRID 6) -- vm-221
import { expect, test } from 'xcluster/vitest'
import type { RunningCluster, RunningVm } from 'xcluster'
import { modeRuns } from '../../fixtures/experiment.ts'
import { ifOn, startFrr } from '../../fixtures/frr.ts'

const V4 = { 1: '192.168.1.100', 2: '192.168.2.100' } as const
const V6 = { 1: '1000::1:192.168.1.100', 2: '1000::1:192.168.2.100' } as const
const VRID = { 1: 5, 2: 6 } as const
const hex = (n: number): string => n.toString(16).padStart(2, '0')

/** The shell that makes router `vm`'s macvlans of net `net` (virtual MAC and address each), as FRR's vrrpd expects them. */
function macvlans(vm: RunningVm, net: 1 | 2): string {
  const dev = ifOn(vm, net)
  const id = VRID[net]
  return [
    // addrgenmode random: a link-local of its own, not one from the virtual MAC that master and backup share (set after the link is made: this kernel refuses it on creation).
    `ip link add vrrp4-${net} link ${dev} type macvlan mode bridge && ip link set vrrp4-${net} addrgenmode random`,
    `ip link set vrrp4-${net} address 00:00:5e:00:01:${hex(id)}`,
    `ip addr add ${V4[net]}/24 dev vrrp4-${net}`,
    `ip link set vrrp4-${net} up`,
    `ip link add vrrp6-${net} link ${dev} type macvlan mode bridge && ip link set vrrp6-${net} addrgenmode random`,
    `ip link set vrrp6-${net} address 00:00:5e:00:02:${hex(id)}`,
    `ip addr add ${V6[net]}/120 dev vrrp6-${net} nodad`,
    `ip link set vrrp6-${net} up`,
  ].join(' && ')
}

/** vm-20x's frr.conf: a VRRPv3 router on each net, IPv4 and IPv6, adverts every 200 ms, vm-201 preferred. */
function vrrpConf(vm: RunningVm): string {
  const prio = vm.num === 201 ? 200 : 100
  return ['frr defaults traditional', `hostname ${vm.name}`, ...([1, 2] as const).flatMap((net) => [
    `interface ${ifOn(vm, net)}`,
    ` vrrp ${VRID[net]} version 3`,
    ` vrrp ${VRID[net]} priority ${prio}`,
    ` vrrp ${VRID[net]} advertisement-interval 200`,
    ` vrrp ${VRID[net]} ip ${V4[net]}`,
    ` vrrp ${VRID[net]} ipv6 ${V6[net]}`,
    'exit',
  ])].join('\n')
}

/** The VRRP states of router `vm`: "vrid v4/v6", e.g. "5 Master/Master". */
async function states(vm: RunningVm): Promise<string[]> {
  const all = JSON.parse(await vm.succeed("vtysh -c 'show vrrp json'")) as Array<{ vrid: number; v4: { status: string }; v6: { status: string } }>
  return all.map((r) => `${r.vrid} ${r.v4.status}/${r.v6.status}`).sort()
}

/**
 * Wait (budget vrrpFailover) until `master` is VRID `vrid`'s master in both
 * families, and the other router its backup (unless `otherBackup` is false:
 * a router cut off from the LAN by its link keeps the state it had, see below).
 */
async function masterOf(cluster: RunningCluster, vrid: number, master: 201 | 202, otherBackup = true): Promise<void> {
  const other = master === 201 ? 202 : 201
  await cluster.waitUntil(async () => {
    expect(await states(cluster.vm(master))).toContain(`${vrid} Master/Master`)
    if (otherBackup) expect(await states(cluster.vm(other))).toContain(`${vrid} Backup/Backup`)
  }, { what: `vm-${master} master of VRID ${vrid} (IPv4 and IPv6)`, budget: 'vrrpFailover', interval: 100 })
}

/**
 * vm-001 pings vm-221 over IPv4 and IPv6 at once, 10 a second for `seconds`,
 * with `step` done once 2 s of pings were answered; the pings sent and lost per family.
 */
async function lostDuring(cluster: RunningCluster, seconds: number, step: () => Promise<void>): Promise<Record<'v4' | 'v6', { sent: number; lost: number }>> {
  const vm = cluster.vm(1)
  const n = seconds * 10
  await vm.succeed(
    `rm -f /tmp/v4.log /tmp/v6.log; setsid /usr/bin/ping -n -i 0.1 -W 1 -c ${n} 192.168.2.221 > /tmp/v4.log 2>&1 < /dev/null & ` +
      `setsid /usr/bin/ping -6 -n -i 0.1 -W 1 -c ${n} 1000::1:192.168.2.221 > /tmp/v6.log 2>&1 < /dev/null &`,
  )
  await vm.waitUntilSucceeds("grep -q 'icmp_seq=20 ' /tmp/v4.log && grep -q 'icmp_seq=20 ' /tmp/v6.log", { what: '20 pings answered in each family', timeout: 10_000, interval: 100 })
  await step()
  const out: Record<string, { sent: number; lost: number }> = {}
  for (const f of ['v4', 'v6']) {
    const log = await vm.waitUntilSucceeds(`grep -q 'packets transmitted' /tmp/${f}.log && cat /tmp/${f}.log`, { what: `the ${f} ping's summary`, timeout: (seconds + 30) * 1000, interval: 500 })
    const m = /(\d+) packets transmitted, (\d+) received/.exec(log)!
    out[f] = { sent: Number(m[1]), lost: Number(m[1]) - Number(m[2]) }
  }
  return out as Record<'v4' | 'v6', { sent: number; lost: number }>
}

const told = (r: Record<'v4' | 'v6', { sent: number; lost: number }>): string => `IPv4 ${r.v4.lost} of ${r.v4.sent}, IPv6 ${r.v6.lost} of ${r.v6.sent} pings lost (one every 0.1 s)`

export function vrrpFrrSuite(mode: 'user' | 'bridge'): void {
  if (!modeRuns(mode, `vrrp-frr-${mode}: FRR's vrrpd moves a virtual gateway (IPv4 and IPv6) on a link down, back, and on a priority change`)) return
  test.override('clusterOptions', { scope: 'file' }, {
    name: `vrrpfrr-${mode}`,
    network: mode,
    nvm: 1,
    nrouters: 2,
    ntesters: 1,
    // iputils ping in the hosts (ten a second, IPv6); FRR in the routers, in 96 MiB (zebra, staticd and vrrpd).
    tools: true,
    packagesRole: { router: ['frr'] },
    mem: 96,
  })

  test('vm-201 is master of both virtual routers in both families, vm-202 backup; the hosts reach each other through the virtual gateways', async ({ cluster }) => {
    await cluster.vm(1).succeed(`ip route add 192.168.2.0/24 via ${V4[1]} && ip -6 route add 1000::1:192.168.2.0/120 via ${V6[1]}`)
    await cluster.vm(221).succeed(`ip route add 192.168.1.0/24 via ${V4[2]} && ip -6 route add 1000::1:192.168.1.0/120 via ${V6[2]}`)
    await Promise.all([201, 202].map(async (n) => {
      const vm = cluster.vm(n)
      const other = n === 201 ? 202 : 201
      await vm.succeed([
        'sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1',
        // ARP for a virtual address is answered by its macvlan (with the virtual MAC) alone: not by the parent NIC, which would give its own MAC (Linux's default answers on any interface).
        'sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2',
        // A LAN link that is down: its connected routes are skipped, and the LAN is reached through the other router (net 2).
        'sysctl -qw net.ipv4.conf.all.ignore_routes_with_linkdown=1 net.ipv6.conf.all.ignore_routes_with_linkdown=1',
        `ip route add 192.168.1.0/24 via 192.168.2.${other} metric 100`,
        `ip -6 route add 1000::1:192.168.1.0/120 via 1000::1:192.168.2.${other} metric 2048`,
        macvlans(vm, 1), macvlans(vm, 2),
      ].join(' && '))
      await startFrr(vm, ['vrrpd'], vrrpConf(vm))
    }))
    await masterOf(cluster, 5, 201)
    await masterOf(cluster, 6, 201)
    // The backup's macvlans are protodown: only the master answers for the virtual addresses.
    expect(await cluster.vm(202).succeed('ip -d link show vrrp4-1')).toMatch(/protodown on/)
    await cluster.vm(1).succeed('ping -c3 -i0.2 -W2 192.168.2.221 && ping -6 -c3 -i0.2 -W2 1000::1:192.168.2.221')
    // The gateway's MAC in the host is the virtual one.
    expect(await cluster.vm(1).succeed(`ip neigh show ${V4[1]}`)).toContain('00:00:5e:00:01:05')
  })

  test("the master's LAN link goes down: vm-202 takes the LAN's virtual gateway, and few pings are lost", async ({ cluster, annotate }) => {
    const r = await lostDuring(cluster, 10, async () => {
      await cluster.vm(201).link(1).down()
      // vm-201 itself stays Master of VRID 5: FRR 8.4's vrrpd follows its macvlan, which keeps its carrier when eth1
      // loses it (seen: eth1 NO-CARRIER, vrrp4-1 LOWER_UP, "Status (v4) Master"). Cut off from the LAN, it harms nothing.
      await masterOf(cluster, 5, 202, false)
    })
    await annotate(`master's link down: ${told(r)}`)
    // Three adverts missed (0.6 s) and the skew: about 7 pings. 30 (3 s) leaves room for a loaded TCG machine.
    expect(r.v4.lost).toBeLessThanOrEqual(30)
    expect(r.v6.lost).toBeLessThanOrEqual(30)
    // vm-201 is still master of the other net's gateway, and sends what it gets for the LAN to vm-202.
    expect(await states(cluster.vm(201))).toContain('6 Master/Master')
    expect(await cluster.vm(201).succeed('ip route get 192.168.1.1')).toMatch(/via 192\.168\.2\.202 dev eth2/)
  })

  test('the link comes back: vm-201 preempts and takes the gateway back', async ({ cluster, annotate }) => {
    const r = await lostDuring(cluster, 8, async () => {
      await cluster.vm(201).link(1).up()
      await masterOf(cluster, 5, 201)
    })
    await annotate(`link back, vm-201 preempts: ${told(r)}`)
    expect(r.v4.lost).toBeLessThanOrEqual(20)
    expect(r.v6.lost).toBeLessThanOrEqual(20)
  })

  test("vm-202's priority raised above vm-201's: vm-202 preempts, and the pings go on", async ({ cluster, annotate }) => {
    const r = await lostDuring(cluster, 8, async () => {
      await cluster.vm(202).succeed(`vtysh -c 'conf t' -c 'interface ${ifOn(cluster.vm(202), 1)}' -c 'vrrp 5 priority 250'`)
      await masterOf(cluster, 5, 202)
    })
    await annotate(`priority change, vm-202 preempts: ${told(r)}`)
    expect(r.v4.lost).toBeLessThanOrEqual(20)
    expect(r.v6.lost).toBeLessThanOrEqual(20)
    // The host's gateway MAC did not change: the virtual MAC moved with the address.
    expect(await cluster.vm(1).succeed(`ip neigh show ${V4[1]}`)).toContain('00:00:5e:00:01:05')
  })
}
