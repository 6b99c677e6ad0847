import { describe, expect, it } from 'vitest'
import { moduleClosure, moduleName, parseModulesDep } from '../../src/image/modules.ts'

const DEP = `kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
kernel/net/802/stp.ko: kernel/net/llc/llc.ko
kernel/net/llc/llc.ko:
kernel/drivers/net/veth.ko.xz:
kernel/net/sched/sch-netem.ko.zst:

kernel/net/ipv4/ipip.ko:   kernel/net/ipv4/tunnel4.ko	kernel/net/ipv4/ip_tunnel.ko  
kernel/net/ipv4/tunnel4.ko:
kernel/net/ipv4/ip_tunnel.ko: kernel/net/ipv4/udp-tunnel.ko.gz
kernel/net/ipv4/udp-tunnel.ko.gz:
# not a module line
`

describe('moduleName', () => {
  it.each([
    ['kernel/net/llc/llc.ko', 'llc'],
    ['kernel/drivers/net/veth.ko.xz', 'veth'],
    ['kernel/net/sched/sch-netem.ko.zst', 'sch_netem'],
    ['kernel/net/ipv4/udp-tunnel.ko.gz', 'udp_tunnel'],
    ['ip_tunnel.ko', 'ip_tunnel'],
    ['a-b-c.ko', 'a_b_c'],
  ])('%s is %s', (path, name) => {
    expect(moduleName(path)).toBe(name)
  })
})

describe('parseModulesDep', () => {
  it('maps each module path to its dependency paths, skipping other lines', () => {
    const deps = parseModulesDep(DEP)
    expect([...deps.entries()]).toEqual([
      ['kernel/net/bridge/bridge.ko', ['kernel/net/802/stp.ko', 'kernel/net/llc/llc.ko']],
      ['kernel/net/802/stp.ko', ['kernel/net/llc/llc.ko']],
      ['kernel/net/llc/llc.ko', []],
      ['kernel/drivers/net/veth.ko.xz', []],
      ['kernel/net/sched/sch-netem.ko.zst', []],
      ['kernel/net/ipv4/ipip.ko', ['kernel/net/ipv4/tunnel4.ko', 'kernel/net/ipv4/ip_tunnel.ko']],
      ['kernel/net/ipv4/tunnel4.ko', []],
      ['kernel/net/ipv4/ip_tunnel.ko', ['kernel/net/ipv4/udp-tunnel.ko.gz']],
      ['kernel/net/ipv4/udp-tunnel.ko.gz', []],
    ])
  })

  it('copes with CRLF line ends', () => {
    const deps = parseModulesDep('a.ko: b.ko\r\nb.ko:\r\n')
    expect([...deps.entries()]).toEqual([
      ['a.ko', ['b.ko']],
      ['b.ko', []],
    ])
  })

  it('gives an empty map for empty text', () => {
    expect(parseModulesDep('').size).toBe(0)
  })
})

describe('moduleClosure', () => {
  const deps = parseModulesDep(DEP)

  it('follows dependencies transitively, sorted, each once', () => {
    expect(moduleClosure(deps, ['bridge'])).toEqual({
      paths: ['kernel/net/802/stp.ko', 'kernel/net/bridge/bridge.ko', 'kernel/net/llc/llc.ko'],
      missing: [],
    })
    expect(moduleClosure(deps, ['ipip'])).toEqual({
      paths: [
        'kernel/net/ipv4/ip_tunnel.ko',
        'kernel/net/ipv4/ipip.ko',
        'kernel/net/ipv4/tunnel4.ko',
        'kernel/net/ipv4/udp-tunnel.ko.gz',
      ],
      missing: [],
    })
    expect(moduleClosure(deps, ['bridge', 'stp', 'llc']).paths).toEqual([
      'kernel/net/802/stp.ko',
      'kernel/net/bridge/bridge.ko',
      'kernel/net/llc/llc.ko',
    ])
  })

  it('matches names with - and _ alike', () => {
    expect(moduleClosure(deps, ['sch_netem']).paths).toEqual(['kernel/net/sched/sch-netem.ko.zst'])
    expect(moduleClosure(deps, ['sch-netem']).paths).toEqual(['kernel/net/sched/sch-netem.ko.zst'])
    expect(moduleClosure(deps, ['ip-tunnel']).paths).toEqual(['kernel/net/ipv4/ip_tunnel.ko', 'kernel/net/ipv4/udp-tunnel.ko.gz'])
    expect(moduleClosure(deps, ['udp_tunnel']).paths).toEqual(['kernel/net/ipv4/udp-tunnel.ko.gz'])
  })

  it('lists unknown roots as missing, as they were spelled', () => {
    expect(moduleClosure(deps, ['nosuch', 'veth', 'also-missing'])).toEqual({
      paths: ['kernel/drivers/net/veth.ko.xz'],
      missing: ['nosuch', 'also-missing'],
    })
    expect(moduleClosure(deps, [])).toEqual({ paths: [], missing: [] })
  })

  it('does not match a name by prefix or directory', () => {
    expect(moduleClosure(deps, ['sch', 'net', 'bridge.ko'])).toEqual({ paths: [], missing: ['sch', 'net', 'bridge.ko'] })
  })

  it('terminates on a dependency cycle', () => {
    const cyc = parseModulesDep('a.ko: b.ko\nb.ko: c.ko\nc.ko: a.ko\n')
    expect(moduleClosure(cyc, ['b'])).toEqual({ paths: ['a.ko', 'b.ko', 'c.ko'], missing: [] })
  })
})
