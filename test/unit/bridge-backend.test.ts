import { describe, expect, it } from 'vitest'
import { planOf } from '../../src/cluster/plan-of.ts'
import type { ClusterPlan } from '../../src/plan/plan.ts'
import { bridgeBatch, bridgeName, netnsName, tapBatch, tapName } from '../../src/net/bridge-backend.ts'
import type { ClusterOptions } from '../../src/cluster/options.ts'


const plan = (opts: ClusterOptions): ClusterPlan => planOf({ network: 'bridge', ...opts }, { id: 'k3x9', block: 22 })

describe('names', () => {
  it('names the namespace, bridges and taps', () => {
    expect(netnsName('k3x9')).toBe('xc-k3x9')
    expect(bridgeName(0)).toBe('xcbr0')
    expect(bridgeName(254)).toBe('xcbr254')
    expect(tapName(201, 2)).toBe('t201n2')
    expect(tapName(1, 0)).toBe('t1n0')
  })

  it('keeps every interface name within the 15-character kernel limit and unique', () => {
    // The longest names there can be: VM 240, net 254 (limits of checkOptions).
    expect(tapName(240, 254)).toBe('t240n254')
    expect(bridgeName(254).length).toBeLessThanOrEqual(15)
    // No two (vm, net) pairs share a tap name (t1n11 vs t11n1).
    const names = new Set<string>()
    const nets = [...Array.from({ length: 32 }, (_, i) => i), 100, 254]
    for (let vm = 1; vm <= 240; vm++) for (const net of nets) names.add(tapName(vm, net))
    expect(names.size).toBe(240 * nets.length)
  })
})

describe('bridgeBatch', () => {
  it('brings up lo, one bridge per net, and the host address on net 0', () => {
    expect(bridgeBatch(plan({}))).toEqual([
      'link set lo up',
      'link add xcbr0 type bridge forward_delay 0 stp_state 0',
      'addr add 192.168.0.250/24 dev xcbr0',
      'addr add 1000::1:192.168.0.250/120 dev xcbr0 nodad',
      'link set xcbr0 up',
      'link add xcbr1 type bridge forward_delay 0 stp_state 0',
      'link set xcbr1 up',
      'link add xcbr2 type bridge forward_delay 0 stp_state 0',
      'link set xcbr2 up',
    ])
  })

  it('uses the cluster prefix and only the nets in use', () => {
    expect(bridgeBatch(plan({ nvm: 1, nrouters: 0, netsVm: [0, 7], prefix: 'fd00::5' }))).toEqual([
      'link set lo up',
      'link add xcbr0 type bridge forward_delay 0 stp_state 0',
      'addr add 192.168.0.250/24 dev xcbr0',
      'addr add fd00::5:192.168.0.250/120 dev xcbr0 nodad',
      'link set xcbr0 up',
      'link add xcbr7 type bridge forward_delay 0 stp_state 0',
      'link set xcbr7 up',
    ])
  })
})

describe('tapBatch', () => {
  it('makes one tap per NIC on the bridge of its net', () => {
    const p = plan({ nvm: 1, nrouters: 1, nets: { 201: [0, 2, 1] } })
    expect(tapBatch(p.vms[1])).toEqual([
      'tuntap add dev t201n0 mode tap',
      'link set t201n0 master xcbr0 up',
      'tuntap add dev t201n2 mode tap',
      'link set t201n2 master xcbr2 up',
      'tuntap add dev t201n1 mode tap',
      'link set t201n1 master xcbr1 up',
    ])
    expect(tapBatch(p.vms[0])).toEqual([
      'tuntap add dev t1n0 mode tap',
      'link set t1n0 master xcbr0 up',
      'tuntap add dev t1n1 mode tap',
      'link set t1n1 master xcbr1 up',
    ])
  })
})
