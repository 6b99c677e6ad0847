import { describe, expect, it } from 'vitest'
import { planOf } from '../../src/cluster/plan-of.ts'
import type { ClusterPlan } from '../../src/plan/plan.ts'
import { BLOCK_SIZE, allocationOf } from '../../src/host/port-block.ts'
import type { ClusterOptions } from '../../src/cluster/options.ts'
import { hostsFile, ipv4Of, ipv6Of, macOf, mcastGroupOf, vmName } from '../../src/plan/plan.ts'

const plan = (opts: ClusterOptions, block = 20): ClusterPlan => planOf(opts, { id: 'c1', block })

describe('allocationOf', () => {
  it('gives block 20 its ports and multicast groups', () => {
    expect(allocationOf('abc', 20)).toEqual({
      clusterId: 'abc',
      telnetBase: 20480,
      sshBase: 20736,
      mcastPortBase: 20992,
      mcastGroupPrefix: '239.255.20',
    })
  })

  it('keeps every port of every VM and net inside the block, without overlap', () => {
    const a = allocationOf('x', 21)
    const ports = new Set<number>()
    for (let v = 1; v <= 240; v++) ports.add(a.telnetBase + v).add(a.sshBase + v)
    for (let k = 0; k <= 254; k++) ports.add(a.mcastPortBase + k)
    expect(ports.size).toBe(240 * 2 + 255)
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(21 * BLOCK_SIZE)
      expect(p).toBeLessThan(22 * BLOCK_SIZE)
    }
  })
})

describe('address helpers', () => {
  it('formats MACs as 00:00:00:01:<net>:<vm> in two hex digits', () => {
    expect(macOf(201, 2)).toBe('00:00:00:01:02:c9')
    expect(macOf(1, 0)).toBe('00:00:00:01:00:01')
    expect(macOf(240, 254)).toBe('00:00:00:01:fe:f0')
    expect(macOf(16, 10)).toBe('00:00:00:01:0a:10')
  })

  it('formats addresses and names', () => {
    expect(ipv4Of(3, 7)).toBe('192.168.3.7')
    expect(ipv6Of(3, 7)).toBe('1000::1:192.168.3.7')
    expect(ipv6Of(3, 7, 'fd00::5')).toBe('fd00::5:192.168.3.7')
    expect(vmName(1)).toBe('vm-001')
    expect(vmName(42)).toBe('vm-042')
    expect(vmName(201)).toBe('vm-201')
    expect(mcastGroupOf(allocationOf('x', 33), 4)).toBe('239.255.33.4')
  })
})

describe('planCluster', () => {
  it('plans the default cluster', () => {
    const p = plan({})
    expect(p.id).toBe('c1')
    expect(p.name).toBe('default')
    expect(p.network).toBe('user')
    expect(p.prefix).toBe('1000::1')
    expect(p.nets).toEqual([0, 1, 2])
    expect(p.allocation).toEqual(allocationOf('c1', 20))
    expect(p.vms.map((v) => v.name)).toEqual(['vm-001', 'vm-002', 'vm-003', 'vm-004', 'vm-201', 'vm-202'])
    expect(p.vms.map((v) => v.role)).toEqual(['node', 'node', 'node', 'node', 'router', 'router'])
    expect(p.vms.map((v) => v.nics.map((n) => n.net))).toEqual([[0, 1], [0, 1], [0, 1], [0, 1], [0, 1, 2], [0, 1, 2]])
  })

  it('plans every field of a router', () => {
    const p = plan({ nvm: 1, nrouters: 1 })
    expect(p.vms[1]).toEqual({
      num: 201,
      name: 'vm-201',
      role: 'router',
      mem: 128,
      smp: 1,
      telnetPort: 20480 + 201,
      sshPort: 20736 + 201,
      append: '',
      nics: [
        { ifname: 'eth0', index: 0, net: 0, mac: '00:00:00:01:00:c9', ipv4: '192.168.0.201', ipv6: '1000::1:192.168.0.201', id: 'n0' },
        { ifname: 'eth1', index: 1, net: 1, mac: '00:00:00:01:01:c9', ipv4: '192.168.1.201', ipv6: '1000::1:192.168.1.201', id: 'n1' },
        { ifname: 'eth2', index: 2, net: 2, mac: '00:00:00:01:02:c9', ipv4: '192.168.2.201', ipv6: '1000::1:192.168.2.201', id: 'n2' },
      ],
    })
  })

  it('names interfaces in the order of the net list, not by net number', () => {
    const p = plan({ nvm: 1, nrouters: 1, nets: { 201: [0, 5, 3] } })
    const r = p.vms.find((v) => v.num === 201)!
    expect(r.nics.map((n) => [n.ifname, n.net, n.mac, n.id])).toEqual([
      ['eth0', 0, '00:00:00:01:00:c9', 'n0'],
      ['eth1', 5, '00:00:00:01:05:c9', 'n5'],
      ['eth2', 3, '00:00:00:01:03:c9', 'n3'],
    ])
    // nets is the sorted union of every VM's nets.
    expect(p.nets).toEqual([0, 1, 3, 5])
  })

  it('sorts nets numerically', () => {
    const p = plan({ nvm: 1, nrouters: 1, netsVm: [0, 10], netsRouter: [0, 2, 10, 100] })
    expect(p.nets).toEqual([0, 2, 10, 100])
  })

  it('uses a custom IPv6 prefix', () => {
    const p = plan({ nvm: 2, nrouters: 0, prefix: 'fd00::5' })
    expect(p.prefix).toBe('fd00::5')
    expect(p.vms[1].nics.map((n) => n.ipv6)).toEqual(['fd00::5:192.168.0.2', 'fd00::5:192.168.1.2'])
  })

  it('gives ports base + VM number in the allocated block', () => {
    const p = plan({ nvm: 2, nrouters: 1, ntesters: 1 }, 40)
    expect(p.vms.map((v) => [v.num, v.telnetPort, v.sshPort])).toEqual([
      [1, 40961, 41217],
      [2, 40962, 41218],
      [201, 41161, 41417],
      [221, 41181, 41437],
    ])
  })

  it('applies per-VM memory, smp and kernel command line', () => {
    const p = plan({ nvm: 2, nrouters: 1, mem: 256, memVm: { 201: 512 }, smpVm: { 2: 2 }, append: 'a=1', appendVm: { 2: 'b=2', 201: 'c=3' } })
    expect(p.vms.map((v) => [v.num, v.mem, v.smp, v.append])).toEqual([
      [1, 256, 1, 'a=1'],
      [2, 256, 2, 'a=1 b=2'],
      [201, 512, 1, 'a=1 c=3'],
    ])
    const q = plan({ nvm: 1, nrouters: 0, appendVm: { 1: 'only=me' } })
    expect(q.vms[0].append).toBe('only=me')
  })

  it('gives testers their role and nets, and sorts extra VMs in', () => {
    const p = plan({ nvm: 1, nrouters: 0, ntesters: 1, extraVms: [150, 205] })
    expect(p.vms.map((v) => [v.name, v.role, v.nics.map((n) => n.net)])).toEqual([
      ['vm-001', 'node', [0, 1]],
      ['vm-150', 'node', [0, 1]],
      ['vm-205', 'router', [0, 1, 2]],
      ['vm-221', 'tester', [0, 2]],
    ])
  })

  it('gives every NIC of the cluster a unique MAC', () => {
    const p = plan({ nvm: 200, nrouters: 20, ntesters: 20 })
    const macs = p.vms.flatMap((v) => v.nics.map((n) => n.mac))
    expect(macs.length).toBe(200 * 2 + 20 * 3 + 20 * 2)
    expect(new Set(macs).size).toBe(macs.length)
  })
})

describe('hostsFile', () => {
  it('lists the host, every VM on net 0 by name and on other nets as name-netK', () => {
    const p = plan({ nvm: 1, nrouters: 1 })
    expect(hostsFile(p)).toBe(
      [
        '127.0.0.1 localhost',
        '::1 localhost',
        '192.168.0.250 host',
        '1000::1:192.168.0.250 host',
        '192.168.0.1 vm-001',
        '1000::1:192.168.0.1 vm-001',
        '192.168.1.1 vm-001-net1',
        '1000::1:192.168.1.1 vm-001-net1',
        '192.168.0.201 vm-201',
        '1000::1:192.168.0.201 vm-201',
        '192.168.1.201 vm-201-net1',
        '1000::1:192.168.1.201 vm-201-net1',
        '192.168.2.201 vm-201-net2',
        '1000::1:192.168.2.201 vm-201-net2',
      ].join('\n') + '\n',
    )
  })

  it('uses the cluster prefix for the IPv6 lines', () => {
    const p = plan({ nvm: 1, nrouters: 0, prefix: 'fd00::5', netsVm: [0] })
    expect(hostsFile(p)).toBe(
      '127.0.0.1 localhost\n::1 localhost\n192.168.0.250 host\nfd00::5:192.168.0.250 host\n192.168.0.1 vm-001\nfd00::5:192.168.0.1 vm-001\n',
    )
  })
})
