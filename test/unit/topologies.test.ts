// The standard topologies as data: planned with small options, each VM's
// setup (VmNetConfig) and its rendered boot script hold the facts of
// /work/shared/TOPOLOGIES.md (with the fixes listed in each topology's notes).
import { planOf } from '../../src/cluster/plan-of.ts'
import { describe, expect, it } from 'vitest'
import type { ClusterOptions } from '../../src/cluster/options.ts'
import type { ClusterPlan } from '../../src/plan/plan.ts'
import { getTopology, TOPOLOGIES } from '../../src/topology/index.ts'
import { renderScript } from '../../src/topology/script.ts'
import type { RouteConfig, VmNetConfig } from '../../src/topology/types.ts'

const NAMES = ['xnet', 'dual-path', 'multihop', 'zones', 'backend', 'bridge', 'multilan', 'multilan-router', 'evil_tester', 'diamond', 'x-diamond']

const plan = (topology: string, opts: ClusterOptions = {}): ClusterPlan => planOf({ topology, ...opts }, { id: 'abc12345' })

/** A small cluster of `topology`: 2 nodes and the topology's own counts, 2 testers where the topology sets none. */
function small(topology: string, opts: ClusterOptions = {}): ClusterPlan {
  const d = getTopology(topology)!.defaults()
  return plan(topology, { nvm: 2, ...(d.ntesters === undefined ? { ntesters: 2 } : {}), ...(topology === 'zones' ? { extraVms: [10, 11, 20, 21] } : {}), ...opts })
}

const vmOf = (p: ClusterPlan, num: number) => {
  const vm = p.vms.find((v) => v.num === num)
  if (!vm) throw new Error(`no vm ${num} in the plan`)
  return vm
}
const netsOf = (p: ClusterPlan, num: number): number[] => vmOf(p, num).nics.map((n) => n.net)

/** A small plan of topology `name`, with each VM's setup (c) and script (s). */
function topo(name: string, opts: ClusterOptions = {}): { p: ClusterPlan; c: (num: number) => VmNetConfig; s: (num: number) => string } {
  const p = small(name, opts)
  const t = getTopology(name)!
  return { p, c: (num) => t.vmConfig(vmOf(p, num), p), s: (num) => renderScript(vmOf(p, num).name, t.vmConfig(vmOf(p, num), p)) }
}

const route = (r: RouteConfig[] | undefined, dst: string, family: 4 | 6 = 4, table?: number) =>
  (r ?? []).find((x) => x.dst === dst && x.family === family && x.table === table)

describe('the registry', () => {
  it('has the 11 standard topologies under their names, each with notes', () => {
    expect(Object.keys(TOPOLOGIES).sort()).toEqual([...NAMES].sort())
    for (const n of NAMES) {
      expect(getTopology(n)!.name).toBe(n)
      expect(getTopology(n)!.notes?.length ?? 0, n).toBeGreaterThan(0)
    }
  })
})

describe.each(NAMES)('%s, on a small cluster', (name) => {
  const { p, c, s } = topo(name)
  // Every address any VM configures, and the host alias.
  const all = new Set<string>(['192.168.0.250'])
  for (const vm of p.vms) {
    for (const a of c(vm.num).addresses) all.add(a.cidr.split('/')[0])
    for (const nic of vm.nics.filter((n) => n.index === 0)) all.add(nic.ipv4).add(nic.ipv6)
  }

  it('configures only devices the VM has (its NICs and its own bridges)', () => {
    for (const vm of p.vms) {
      const x = c(vm.num)
      const devs = new Set([...vm.nics.map((n) => n.ifname), ...(x.bridges ?? []).map((b) => b.name)])
      for (const a of x.addresses) expect(devs.has(a.dev), `${vm.name} ${a.dev}`).toBe(true)
      for (const b of x.bridges ?? []) for (const m of b.members) expect(vm.nics.some((n) => n.ifname === m), `${vm.name} ${m}`).toBe(true)
      for (const r of x.rules ?? []) expect(r.oif === undefined || devs.has(r.oif), `${vm.name} rule ${r.oif}`).toBe(true)
    }
  })

  it('routes only through addresses that some VM (or the host) has', () => {
    for (const vm of p.vms) {
      for (const r of c(vm.num).routes ?? []) for (const v of r.via) expect(all.has(v), `${vm.name}: ${r.dst} via ${v}`).toBe(true)
    }
  })

  it('never routes through the VM itself, and every IPv6 route goes to an IPv6 gateway', () => {
    for (const vm of p.vms) {
      const own = new Set(c(vm.num).addresses.map((a) => a.cidr.split('/')[0]))
      for (const r of c(vm.num).routes ?? []) {
        for (const v of r.via) {
          expect(own.has(v), `${vm.name} via itself ${v}`).toBe(false)
          expect(v.includes(':'), `${vm.name} ${r.dst} family ${r.family} via ${v}`).toBe(r.family === 6)
        }
      }
    }
  })

  it('NATs only on forwarding routers, IPv4 out of eth0, and sets no IPv6 default on routers', () => {
    for (const vm of p.vms) {
      const x = c(vm.num)
      if (x.nat?.length) {
        expect(vm.role, vm.name).toBe('router')
        expect(x.forwarding, vm.name).toBe(true)
        for (const n of x.nat) expect(n.outDev).toBe('eth0')
      }
      if (vm.role === 'router') expect(route(x.routes, 'default', 6), vm.name).toBeUndefined()
    }
  })

  it('renders a script that sets every address and route', () => {
    for (const vm of p.vms) {
      const x = c(vm.num)
      const text = s(vm.num)
      expect(text.startsWith('#!/bin/sh\n')).toBe(true)
      for (const a of x.addresses) expect(text).toContain(`addr add ${a.cidr} dev ${a.dev}`)
      expect(text.split('\n').filter((l) => l.includes(' route replace ')).length).toBe((x.routes ?? []).length)
    }
  })

  it('labels the picture where the setup differs from the std addresses only with real devices', () => {
    const extra = getTopology(name)!.diagram?.(p)
    for (const [vmName, rows] of Object.entries(extra?.addresses ?? {})) {
      const vm = p.vms.find((v) => v.name === vmName)!
      const x = getTopology(name)!.vmConfig(vm, p)
      for (const r of rows) expect([...vm.nics.map((n) => n.ifname), ...(x.bridges ?? []).map((b) => b.name)]).toContain(r.ifname)
    }
  })
})

describe('dual-path', () => {
  const { p, c, s } = topo('dual-path')

  it('has the two paths\' net lists, 4 routers and 2 testers by default', () => {
    expect(netsOf(p, 1)).toEqual([0, 1, 4])
    expect(netsOf(p, 201)).toEqual([0, 1, 3])
    expect(netsOf(p, 202)).toEqual([0, 4, 5])
    expect(netsOf(p, 203)).toEqual([0, 3, 2])
    expect(netsOf(p, 204)).toEqual([0, 5, 6])
    expect(netsOf(p, 221)).toEqual([0, 2, 6])
    expect(netsOf(p, 222)).toEqual([0, 2, 6])
    expect(plan('dual-path').vms.map((v) => v.num)).toEqual([1, 2, 3, 4, 201, 202, 203, 204, 221, 222])
    expect(vmOf(p, 203).mem).toBe(128)
  })

  it('gives a third tester net 6 too (the original did not)', () => {
    const q = plan('dual-path', { nvm: 1, ntesters: 3 })
    expect(netsOf(q, 223)).toEqual([0, 2, 6])
    expect(route(getTopology('dual-path')!.vmConfig(vmOf(q, 223), q).routes, 'default', 4, 300)?.via).toEqual(['192.168.6.204'])
  })

  it('routes nodes over path A by default and path B for eth2 (policy tables 300/301)', () => {
    const x = c(1)
    expect(route(x.routes, 'default')?.via).toEqual(['192.168.1.201'])
    expect(route(x.routes, 'default', 6)?.via).toEqual(['1000::1:192.168.1.201'])
    expect(route(x.routes, '192.168.6.0/24')?.via).toEqual(['192.168.4.202'])
    expect(route(x.routes, 'default', 4, 300)?.via).toEqual(['192.168.4.202'])
    expect(route(x.routes, 'default', 6, 301)?.via).toEqual(['1000::1:192.168.4.202'])
    expect(x.rules).toEqual([
      { oif: 'eth2', table: 300, family: 4 },
      { oif: 'eth2', table: 301, family: 6 },
    ])
    expect(s(1)).toContain('ip -4 rule add oif eth2 table 300\n')
    expect(s(1)).toContain('ip -6 rule add oif eth2 table 301\n')
    expect(s(1)).toContain('ip -4 route replace default via 192.168.4.202 table 300\n')
    expect(s(1)).toContain('ip -6 route replace default via 1000::1:192.168.4.202 table 301\n')
  })

  it('routes testers over 203 and 204', () => {
    const x = c(221)
    expect(route(x.routes, 'default')?.via).toEqual(['192.168.2.203'])
    expect(route(x.routes, '192.168.4.0/24')?.via).toEqual(['192.168.6.204'])
    expect(route(x.routes, '1000::1:192.168.4.0/120', 6)?.via).toEqual(['1000::1:192.168.6.204'])
    expect(route(x.routes, 'default', 4, 300)?.via).toEqual(['192.168.6.204'])
  })

  it('has the routers\' routes, NAT only on path A, forwarding on all four', () => {
    expect(route(c(201).routes, '192.168.2.0/24')?.via).toEqual(['192.168.3.203'])
    expect(route(c(201).routes, '192.168.6.0/24')?.via).toEqual(['192.168.3.203'])
    expect(route(c(203).routes, '192.168.4.0/24')?.via).toEqual(['192.168.3.201'])
    expect(route(c(202).routes, '192.168.2.0/24')?.via).toEqual(['192.168.5.204'])
    expect(route(c(204).routes, '1000::1:192.168.1.0/120', 6)?.via).toEqual(['1000::1:192.168.5.202'])
    for (const r of [201, 202, 203, 204]) {
      expect(c(r).forwarding).toBe(true)
      expect(route(c(r).routes, 'default')?.via).toEqual(['192.168.0.250'])
    }
    expect(c(201).nat).toEqual([{ source: '192.168.1.0/24', outDev: 'eth0' }])
    expect(c(203).nat).toEqual([{ source: '192.168.2.0/24', outDev: 'eth0' }])
    expect(c(202).nat ?? []).toEqual([])
    expect(c(204).nat ?? []).toEqual([])
    expect(s(201)).toContain('iptables -t nat -A POSTROUTING -s 192.168.1.0/24 -o eth0 -j MASQUERADE\n')
    expect(s(202)).not.toContain('iptables')
  })

  it('leaves out routes through routers that are not in the plan', () => {
    const q = plan('dual-path', { nvm: 1, nrouters: 2, ntesters: 1 })
    const t = getTopology('dual-path')!
    expect(route(t.vmConfig(vmOf(q, 201), q).routes, '192.168.2.0/24')).toBeUndefined()
    expect(route(t.vmConfig(vmOf(q, 1), q).routes, 'default')?.via).toEqual(['192.168.1.201'])
  })

  it('keeps the user\'s per-VM nets over the topology\'s, and the topology\'s for the others', () => {
    const q = plan('dual-path', { nvm: 1, nets: { 201: [0, 1, 3, 7] } })
    expect(netsOf(q, 201)).toEqual([0, 1, 3, 7])
    expect(netsOf(q, 202)).toEqual([0, 4, 5])
  })
})

describe('multihop', () => {
  const { p, c, s } = topo('multihop')

  it('chains 201-202-203 over nets 3 and 4', () => {
    expect(netsOf(p, 201)).toEqual([0, 1, 3])
    expect(netsOf(p, 202)).toEqual([0, 3, 4])
    expect(netsOf(p, 203)).toEqual([0, 4, 2])
    expect(netsOf(p, 221)).toEqual([0, 2])
    expect(p.vms.filter((v) => v.role === 'router').map((v) => v.mem)).toEqual([128, 128, 128])
  })

  it('routes nets 1 and 2 through vm-202, both families', () => {
    expect(route(c(202).routes, '192.168.1.0/24')?.via).toEqual(['192.168.3.201'])
    expect(route(c(202).routes, '192.168.2.0/24')?.via).toEqual(['192.168.4.203'])
    expect(route(c(202).routes, '1000::1:192.168.2.0/120', 6)?.via).toEqual(['1000::1:192.168.4.203'])
    expect(s(202)).toContain('ip -6 route replace 1000::1:192.168.1.0/120 via 1000::1:192.168.3.201\n')
    expect(c(202).nat ?? []).toEqual([])
  })

  it('routes the ends and the transit nets (the fix)', () => {
    expect(route(c(201).routes, '192.168.2.0/24')?.via).toEqual(['192.168.3.202'])
    expect(route(c(201).routes, '192.168.4.0/24')?.via).toEqual(['192.168.3.202'])
    expect(route(c(203).routes, '192.168.1.0/24')?.via).toEqual(['192.168.4.202'])
    expect(route(c(203).routes, '192.168.3.0/24')?.via).toEqual(['192.168.4.202'])
    expect(c(201).nat).toEqual([{ source: '192.168.1.0/24', outDev: 'eth0' }])
    expect(c(203).nat).toEqual([{ source: '192.168.2.0/24', outDev: 'eth0' }])
    expect(route(c(1).routes, 'default')?.via).toEqual(['192.168.1.201'])
    expect(route(c(221).routes, 'default', 6)?.via).toEqual(['1000::1:192.168.2.203'])
  })
})

describe('zones', () => {
  const { p, c, s } = topo('zones')

  it('puts VMs 10-19 on net 3 and 20-29 on net 4, the whole ranges', () => {
    const q = plan('zones', { nvm: 1, extraVms: [10, 14, 19, 20, 24, 29, 30] })
    for (const v of [10, 14, 19]) expect(netsOf(q, v), `vm ${v}`).toEqual([0, 3])
    for (const v of [20, 24, 29]) expect(netsOf(q, v), `vm ${v}`).toEqual([0, 4])
    expect(netsOf(q, 30)).toEqual([0, 1])
    expect(netsOf(q, 201)).toEqual([0, 1, 2, 3, 4])
    const v14 = getTopology('zones')!.vmConfig(vmOf(q, 14), q)
    expect(v14.addresses.map((a) => a.cidr)).toEqual(['192.168.3.14/24', '1000::1:192.168.3.14/120'])
    expect(route(v14.routes, 'default')?.via).toEqual(['192.168.3.201'])
  })

  it('routes each zone through vm-201 and NATs all four nets on both routers', () => {
    expect(route(c(1).routes, 'default')?.via).toEqual(['192.168.1.201'])
    expect(route(c(10).routes, 'default')?.via).toEqual(['192.168.3.201'])
    expect(route(c(21).routes, 'default', 6)?.via).toEqual(['1000::1:192.168.4.201'])
    expect(route(c(222).routes, 'default')?.via).toEqual(['192.168.2.201'])
    for (const r of [201, 202]) {
      expect(c(r).nat?.map((n) => n.source)).toEqual(['192.168.1.0/24', '192.168.2.0/24', '192.168.3.0/24', '192.168.4.0/24'])
      expect(vmOf(p, r).smp).toBe(3)
      expect(vmOf(p, r).mem).toBe(192)
    }
    expect(s(202)).toContain('iptables -t nat -A POSTROUTING -s 192.168.4.0/24 -o eth0 -j MASQUERADE\n')
  })

  it('sets up nodes 100-199, routers 210+ and testers 230+ by number range', () => {
    const q = plan('zones', { nvm: 1, nrouters: 1, extraVms: [150, 210, 230] })
    const t = getTopology('zones')!
    expect(route(t.vmConfig(vmOf(q, 150), q).routes, 'default')?.via).toEqual(['192.168.1.201'])
    expect(t.vmConfig(vmOf(q, 210), q).forwarding).toBe(true)
    expect(route(t.vmConfig(vmOf(q, 230), q).routes, 'default')?.via).toEqual(['192.168.2.201'])
  })
})

describe('backend', () => {
  const { p, c } = topo('backend')

  it('gives nodes a backend (eth1, net 1) and a frontend (eth2, net 3) with the default on the frontend', () => {
    expect(netsOf(p, 1)).toEqual([0, 1, 3])
    expect(netsOf(p, 202)).toEqual([0, 3, 2])
    expect(route(c(1).routes, 'default')?.via).toEqual(['192.168.3.201'])
    expect(route(c(1).routes, 'default', 6)?.via).toEqual(['1000::1:192.168.3.201'])
    expect(route(c(221).routes, 'default')?.via).toEqual(['192.168.2.201'])
  })

  it('NATs nets 3 and 2 and routes net 1 nowhere', () => {
    expect(c(201).nat?.map((n) => n.source)).toEqual(['192.168.3.0/24', '192.168.2.0/24'])
    for (const vm of p.vms) for (const r of c(vm.num).routes ?? []) expect(r.dst).not.toContain('192.168.1.0')
  })
})

describe('bridge', () => {
  const { p, c, s } = topo('bridge')

  it('bridges eth1 and eth2 in vm-201 (br1) and addresses only the bridge', () => {
    expect(p.vms.filter((v) => v.role === 'router').map((v) => v.num)).toEqual([201])
    const x = c(201)
    expect(x.bridges).toEqual([{ name: 'br1', mac: '00:00:01:01:01:c9', members: ['eth1', 'eth2'] }])
    expect(x.addresses).toEqual([
      { dev: 'br1', cidr: '192.168.1.201/24' },
      { dev: 'br1', cidr: '1000::1:192.168.1.201/120' },
    ])
    expect(x.forwarding).toBe(true)
    expect(x.nat).toEqual([{ source: '192.168.1.0/24', outDev: 'eth0' }])
    const text = s(201)
    expect(text).toContain('ip link add br1 type bridge\nip link set br1 address 00:00:01:01:01:c9\n')
    expect(text).toContain('ip link set eth1 master br1\n')
    expect(text).toContain('ip link set eth2 master br1\n')
    expect(text).not.toMatch(/addr add .* dev eth[12]/)
  })

  it('addresses testers on net 1 on eth1 although eth1 is on host net 2', () => {
    expect(vmOf(p, 221).nics[1].net).toBe(2)
    expect(c(221).addresses).toEqual([
      { dev: 'eth1', cidr: '192.168.1.221/24' },
      { dev: 'eth1', cidr: '1000::1:192.168.1.221/120' },
    ])
  })

  it('sends IPv4 out through vm-201 and keeps the on-link IPv6 default', () => {
    for (const v of [1, 221]) {
      expect(route(c(v).routes, 'default')?.via).toEqual(['192.168.1.201'])
      expect(route(c(v).routes, 'default', 6)).toEqual({ dst: 'default', via: [], dev: 'eth1', family: 6 })
    }
    expect(s(1)).toContain('ip -6 route replace default dev eth1\n')
  })

  it('bridges in one router only: a second would make a loop', () => {
    const q = plan('bridge', { nvm: 1, nrouters: 2 })
    expect(getTopology('bridge')!.vmConfig(vmOf(q, 202), q).bridges ?? []).toEqual([])
  })
})

describe('multilan', () => {
  const { p, c, s } = topo('multilan')

  it('puts nodes on the extra LANs 3-5 without addresses', () => {
    expect(netsOf(p, 1)).toEqual([0, 1, 3, 4, 5])
    expect(c(1).addresses.map((a) => a.dev)).toEqual(['eth1', 'eth1'])
    expect(s(1)).not.toMatch(/eth[234]/)
    expect(vmOf(p, 1).smp).toBe(3)
  })

  it('routes nodes and testers ECMP over every router of the plan', () => {
    const q = plan('multilan', { nvm: 1, nrouters: 3, ntesters: 1 })
    const t = getTopology('multilan')!
    expect(route(t.vmConfig(vmOf(q, 1), q).routes, 'default')?.via).toEqual(['192.168.1.201', '192.168.1.202', '192.168.1.203'])
    expect(route(t.vmConfig(vmOf(q, 221), q).routes, 'default', 6)?.via).toEqual(['1000::1:192.168.2.201', '1000::1:192.168.2.202', '1000::1:192.168.2.203'])
    expect(renderScript('vm-001', t.vmConfig(vmOf(q, 1), q))).toContain(
      'ip -4 route replace default nexthop via 192.168.1.201 nexthop via 192.168.1.202 nexthop via 192.168.1.203\n',
    )
    expect(c(202).nat?.map((n) => n.source)).toEqual(['192.168.1.0/24', '192.168.2.0/24'])
  })
})

describe('multilan-router', () => {
  const { p, c, s } = topo('multilan-router')

  it('puts vm-202 on every LAN and addresses the extra LANs 169.254.<net>.<vm>', () => {
    expect(netsOf(p, 202)).toEqual([0, 1, 2, 3, 4, 5])
    expect(netsOf(p, 201)).toEqual([0, 1, 2])
    expect(c(202).addresses).toContainEqual({ dev: 'eth3', cidr: '169.254.3.202/24' })
    expect(c(202).addresses).toContainEqual({ dev: 'eth5', cidr: '1000::1:169.254.5.202/120' })
    expect(c(1).addresses).toContainEqual({ dev: 'eth2', cidr: '169.254.3.1/24' })
    expect(c(2).addresses).toContainEqual({ dev: 'eth4', cidr: '169.254.5.2/24' })
    expect(c(201).addresses.some((a) => a.cidr.includes('169.254'))).toBe(false)
    expect(c(221).addresses.some((a) => a.cidr.includes('169.254'))).toBe(false)
    expect(s(202)).toContain('ip -6 addr add 1000::1:169.254.4.202/120 dev eth4 nodad\n')
    expect((c(202).routes ?? []).some((r) => r.dst.includes('169.254'))).toBe(false)
  })

  it('raises the default smp to 3', () => {
    expect(p.vms.every((v) => v.smp === 3)).toBe(true)
    expect(plan('multilan-router', { nvm: 1, smp: 1 }).vms.find((v) => v.num === 202)!.smp).toBe(3)
  })
})

describe('evil_tester', () => {
  const { p, c, s } = topo('evil_tester')

  it('puts vm-222 between the routers (net 3) and the testers (net 2), forwarding', () => {
    expect(p.vms.filter((v) => v.role === 'tester').map((v) => v.num)).toEqual([221, 222])
    expect(netsOf(p, 201)).toEqual([0, 1, 3])
    expect(netsOf(p, 222)).toEqual([0, 3, 2])
    expect(netsOf(p, 221)).toEqual([0, 2])
    expect(c(222).forwarding).toBe(true)
    expect(c(222).nat ?? []).toEqual([])
    expect(route(c(222).routes, 'default')?.via).toEqual(['192.168.3.201', '192.168.3.202'])
    expect(s(222)).toContain('echo 1 > /proc/sys/net/ipv4/ip_forward\n')
    expect(c(221).forwarding ?? false).toBe(false)
    expect(route(c(221).routes, 'default')?.via).toEqual(['192.168.2.222'])
  })

  it('routes net 2 through vm-222 on every router, which NAT nets 1 and 2', () => {
    for (const r of [201, 202]) {
      expect(route(c(r).routes, '192.168.2.0/24')?.via).toEqual(['192.168.3.222'])
      expect(route(c(r).routes, '1000::1:192.168.2.0/120', 6)?.via).toEqual(['1000::1:192.168.3.222'])
      expect(c(r).nat?.map((n) => n.source)).toEqual(['192.168.1.0/24', '192.168.2.0/24'])
    }
  })

  it('sets up a third tester as a tester behind vm-222, not as a node', () => {
    const q = plan('evil_tester', { nvm: 1, ntesters: 3 })
    const x = getTopology('evil_tester')!.vmConfig(vmOf(q, 223), q)
    expect(route(x.routes, 'default')?.via).toEqual(['192.168.2.222'])
    expect(x.addresses[0]).toEqual({ dev: 'eth1', cidr: '192.168.2.223/24' })
  })
})

describe('diamond', () => {
  const { p, c, s } = topo('diamond')

  it('has the diamond\'s nets and one tester by default', () => {
    expect(netsOf(p, 201)).toEqual([0, 1, 3, 4])
    expect(netsOf(p, 202)).toEqual([0, 2, 5, 6])
    expect(netsOf(p, 203)).toEqual([0, 3, 5])
    expect(netsOf(p, 204)).toEqual([0, 4, 6])
    expect(p.vms.filter((v) => v.role === 'tester').map((v) => v.num)).toEqual([221])
  })

  it('routes multipath at the edges, both families', () => {
    expect(route(c(201).routes, '192.168.2.0/24')?.via).toEqual(['192.168.3.203', '192.168.4.204'])
    expect(route(c(201).routes, '1000::1:192.168.2.0/120', 6)?.via).toEqual(['1000::1:192.168.3.203', '1000::1:192.168.4.204'])
    expect(route(c(202).routes, '192.168.1.0/24')?.via).toEqual(['192.168.5.203', '192.168.6.204'])
    expect(s(201)).toContain('ip -4 route replace 192.168.2.0/24 nexthop via 192.168.3.203 nexthop via 192.168.4.204\n')
    expect(s(202)).toContain('ip -6 route replace 1000::1:192.168.1.0/120 nexthop via 1000::1:192.168.5.203 nexthop via 1000::1:192.168.6.204\n')
  })

  it('gives the middle routers two routes and no default or NAT', () => {
    expect(c(203).routes?.map((r) => `${r.dst} ${r.via.join(',')}`)).toEqual([
      '192.168.1.0/24 192.168.3.201',
      '1000::1:192.168.1.0/120 1000::1:192.168.3.201',
      '192.168.2.0/24 192.168.5.202',
      '1000::1:192.168.2.0/120 1000::1:192.168.5.202',
    ])
    expect(route(c(204).routes, 'default')).toBeUndefined()
    expect(c(204).nat ?? []).toEqual([])
    expect(c(204).forwarding).toBe(true)
  })

  it('keeps only the next hops of routers in the plan', () => {
    const q = plan('diamond', { nvm: 1, nrouters: 3 })
    expect(route(getTopology('diamond')!.vmConfig(vmOf(q, 201), q).routes, '192.168.2.0/24')?.via).toEqual(['192.168.3.203'])
  })
})

describe('x-diamond', () => {
  const { p, c } = topo('x-diamond')

  it('has six routers with the path and cross-link nets', () => {
    expect(netsOf(p, 203)).toEqual([0, 3, 5, 9, 11])
    expect(netsOf(p, 204)).toEqual([0, 4, 6, 9, 12])
    expect(netsOf(p, 205)).toEqual([0, 5, 7, 10, 12])
    expect(netsOf(p, 206)).toEqual([0, 6, 8, 10, 11])
    expect(p.vms.map((v) => v.num)).toEqual([1, 2, 201, 202, 203, 204, 205, 206, 221])
    expect(c(206).addresses).toContainEqual({ dev: 'eth4', cidr: '192.168.11.206/24' })
  })

  it('routes the two paths, multipath at the edges, never over a cross-link', () => {
    expect(route(c(202).routes, '192.168.1.0/24')?.via).toEqual(['192.168.7.205', '192.168.8.206'])
    expect(route(c(205).routes, '192.168.1.0/24')?.via).toEqual(['192.168.5.203'])
    expect(route(c(206).routes, '192.168.2.0/24')?.via).toEqual(['192.168.8.202'])
    for (const vm of p.vms) {
      for (const r of c(vm.num).routes ?? []) for (const v of r.via) expect(v, `${vm.name} ${r.dst}`).not.toMatch(/192\.168\.(9|10|11|12)\./)
    }
  })
})

describe('the pictures\' extra labels', () => {
  it('show the bridge, the testers\' net-1 addresses and the un-addressed ports', () => {
    const { p } = topo('bridge')
    const x = getTopology('bridge')!.diagram!(p)
    expect(x.addresses?.['vm-201']).toContainEqual({ ifname: 'br1', label: '192.168.1.201/24' })
    expect(x.addresses?.['vm-201']).toContainEqual({ ifname: 'eth1', label: 'port of br1, no address' })
    expect(x.addresses?.['vm-221']).toContainEqual({ ifname: 'eth1', label: 'instead: 192.168.1.221/24' })
    expect(x.addresses?.['vm-001']).toBeUndefined()
  })

  it('show the extra-LAN addresses and the un-addressed LANs', () => {
    const mr = topo('multilan-router')
    expect(getTopology('multilan-router')!.diagram!(mr.p).addresses?.['vm-202']).toContainEqual({ ifname: 'eth3', label: 'instead: 169.254.3.202/24' })
    const ml = topo('multilan')
    expect(getTopology('multilan')!.diagram!(ml.p).addresses?.['vm-001']).toContainEqual({ ifname: 'eth2', label: 'no address' })
  })
})
