// Point-to-point links (`links`) and std addresses on some nets only: the
// checks, the nets and NICs the plan gives, and what the rc script does.
import { describe, expect, it } from 'vitest'
import { allocationOf } from '../../src/host/port-block.ts'
import { checkOptions, type ClusterOptions } from '../../src/cluster/options.ts'
import { planCluster } from '../../src/plan/plan.ts'
import { LINK_NET_BASE, linkNetBetween } from '../../src/plan/links.ts'
import { STD_ADDRESSES_RC } from '../../src/image/guest-files.ts'

const problemsOf = (o: unknown): string[] => checkOptions(o as ClusterOptions).problems

describe('links', () => {
  const fabric: ClusterOptions = { nvm: 2, nrouters: 4, nets: { 201: [0], 202: [0] }, links: [[201, 203], [201, 204], [202, 203], [202, 204]] }

  it('gives each pair a net of its own, from 200 in order, and a NIC on each end after its other nets', () => {
    const { spec, problems } = checkOptions(fabric)
    expect(problems).toEqual([])
    const plan = planCluster(spec, allocationOf('c1', 20))
    const nics = (vm: number) => plan.vms.find((v) => v.num === vm)!.nics.map((n) => `${n.ifname}:${n.net}`)
    expect(nics(201)).toEqual(['eth0:0', 'eth1:200', 'eth2:201'])
    expect(nics(203)).toEqual(['eth0:0', 'eth1:1', 'eth2:2', 'eth3:200', 'eth4:202'])
    expect(nics(204)).toEqual(['eth0:0', 'eth1:1', 'eth2:2', 'eth3:201', 'eth4:203'])
    expect(nics(1)).toEqual(['eth0:0', 'eth1:1'])
    expect(linkNetBetween(spec.links, 204, 202)).toBe(LINK_NET_BASE + 3)
    expect(linkNetBetween(spec.links, 201, 202)).toBeUndefined()
  })

  it('lists every bad link at once', () => {
    expect(problemsOf({ nvm: 1, nrouters: 2, links: [[201, 209], [201, 201], [201, 202], [202, 201], [1], 'x'] })).toEqual([
      '`links[0]` names vm-209, not in the cluster',
      '`links[1]` joins vm-201 to itself',
      '`links` joins vm-202 and vm-201 twice',
      'Expected `links[4]` to be a pair of VM numbers such as [201, 203], got `[1]`',
      'Expected `links[5]` to be a pair of VM numbers such as [201, 203], got `x`',
    ])
    expect(problemsOf({ links: 5 })).toEqual(['Expected `links` to be a list of VM pairs such as [[201, 203], [202, 203]], got `5`'])
  })

  it('refuses a link net given otherwise, and a VM past 16 NICs with its links', () => {
    expect(problemsOf({ nvm: 1, nrouters: 2, nets: { 1: [0, 200] }, links: [[201, 202]] })).toEqual([
      '`links` use nets 200-200, but net 200 is given otherwise: use nets below 200 for the others',
    ])
    const many = Array.from({ length: 16 }, (_, i) => [201, 202 + i] as [number, number]).slice(0, 16)
    expect(problemsOf({ nvm: 1, nrouters: 17, netsRouter: [0], links: many })).toEqual(['vm-201 has 17 NICs with its links; at most 16 NICs per VM'])
  })
})

describe('stdAddresses on some nets', () => {
  it('takes a list of nets, sorted, each once', () => {
    expect(checkOptions({ stdAddresses: [2, 1, 2] }).spec.stdAddresses).toEqual([1, 2])
    expect(checkOptions({ stdAddresses: true }).spec.stdAddresses).toBe(true)
    expect(problemsOf({ stdAddresses: [0] })).toEqual([
      'Expected `stdAddresses` to be true, false or a list of nets 1-254 (their NICs get the std addresses, the others come up without one), got `[0]`',
    ])
    expect(problemsOf({ stdAddresses: [1], topology: 'xnet' })).toEqual(['`stdAddresses` and `topology` both set addresses: topology xnet sets up its own, drop `stdAddresses`'])
  })

  it('the rc script addresses only the listed nets and brings every NIC up', () => {
    expect(STD_ADDRESSES_RC).toContain('only=$(cat /etc/xcluster/std-nets 2>/dev/null || echo all)')
    expect(STD_ADDRESSES_RC).toMatch(/case " \$only " in\n  \*" all "\*\|\*" \$net "\*\)\n    ip addr add/)
    expect(STD_ADDRESSES_RC).toMatch(/esac\n  ip link set \$dev up\ndone/)
  })
})
