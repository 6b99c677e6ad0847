// The kernel config as data: parsing fragments and .config files, and what
// a fragment or the harness's needs did not get.
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { describeUnmet, formatKconfig, parseKconfig, unmetNeeds, unmetOptions } from '../../src/kernel/kconfig.ts'
import { FRAGMENTS, MODULAR_NEEDS } from '../../src/kernel/configure.ts'

const FRAGMENT = `# a comment
CONFIG_A=y
# CONFIG_B is not set
CONFIG_C=m
CONFIG_S="-xcluster"
CONFIG_N=64
  CONFIG_INDENTED=y
#CONFIG_NOT_A_LINE is not set
not a line
`

describe('parseKconfig', () => {
  it('reads set options, unset ones as n, and skips everything else', () => {
    expect([...parseKconfig(FRAGMENT)]).toEqual([
      ['CONFIG_A', 'y'], ['CONFIG_B', 'n'], ['CONFIG_C', 'm'], ['CONFIG_S', '"-xcluster"'], ['CONFIG_N', '64'], ['CONFIG_INDENTED', 'y'],
    ])
  })
  it('formats back to the same values', () => {
    expect(parseKconfig(formatKconfig(parseKconfig(FRAGMENT)))).toEqual(parseKconfig(FRAGMENT))
  })
})

describe('unmetOptions', () => {
  const config = parseKconfig('CONFIG_A=y\nCONFIG_C=y\nCONFIG_S="-xcluster"\nCONFIG_N=32\n')
  it('lists each option whose value differs, an absent option counting as n', () => {
    const unmet = unmetOptions(parseKconfig(FRAGMENT), config)
    expect(unmet.map(describeUnmet)).toEqual(['CONFIG_C=m (got y)', 'CONFIG_N=64 (got 32)', 'CONFIG_INDENTED=y (got n)'])
  })
  it('takes an unset option as met when the config does not have it', () => {
    expect(unmetOptions(parseKconfig('# CONFIG_B is not set\n'), config)).toEqual([])
  })
})

describe('unmetNeeds', () => {
  it('takes m for y only for the needs the harness loads as modules', () => {
    const needs = parseKconfig('CONFIG_VIRTIO_NET=y\nCONFIG_EXT4_FS=y\n')
    const config = parseKconfig('CONFIG_VIRTIO_NET=m\nCONFIG_EXT4_FS=m\n')
    expect(unmetNeeds(needs, config, MODULAR_NEEDS).map(describeUnmet)).toEqual(['CONFIG_EXT4_FS=y (got m)'])
  })
})

describe("the harness's fragments", () => {
  const read = (f: string): string => readFileSync(new URL(`../../src/kernel/${f}`, import.meta.url), 'utf8')
  it('never set an option twice, within or across files', () => {
    const seen = new Map<string, string>()
    const twice: string[] = []
    for (const f of FRAGMENTS) {
      for (const k of parseKconfig(read(f)).keys()) {
        if (seen.has(k)) twice.push(`${k} in ${seen.get(k)} and ${f}`)
        seen.set(k, f)
      }
      const lines = read(f).split('\n').filter((l) => /^(CONFIG_\w+=|# CONFIG_\w+ is not set$)/.test(l)).length
      expect(parseKconfig(read(f)).size, `${f}: an option set twice in it`).toBe(lines)
    }
    expect(twice).toEqual([])
  })
  it('keep out what a test VM never has', () => {
    const all = parseKconfig(FRAGMENTS.map(read).join('\n'))
    // ACPI is in for its tables (the HPET and PM timer that calibrate the TSC under TCG), its drivers are not.
    expect(all.get('CONFIG_ACPI')).toBe('y')
    for (const k of ['CONFIG_ACPI_BUTTON', 'CONFIG_ACPI_PROCESSOR', 'CONFIG_SOUND', 'CONFIG_DRM', 'CONFIG_USB_SUPPORT', 'CONFIG_WLAN', 'CONFIG_DEBUG_INFO']) expect(all.get(k) ?? 'n', k).toBe('n')
    expect(all.get('CONFIG_CRYPTO_MANAGER_DISABLE_TESTS')).toBe('y')
  })
  it('have the network features the experiments use', () => {
    const all = parseKconfig(FRAGMENTS.map(read).join('\n'))
    const features = ['BRIDGE', 'VLAN_8021Q', 'BONDING', 'NET_TEAM', 'MACVLAN', 'IPVLAN', 'VETH', 'NET_VRF', 'VXLAN', 'GENEVE', 'NET_IPGRE', 'NET_IPIP', 'WIREGUARD',
      'MPLS_ROUTING', 'MPLS_IPTUNNEL', 'IPV6_SEG6_LWTUNNEL', 'IP_VS', 'IP_SCTP', 'NF_CONNTRACK', 'NF_TABLES', 'NF_NAT', 'NET_SCH_NETEM', 'OPENVSWITCH', 'BPF_SYSCALL', 'XDP_SOCKETS']
    expect(features.filter((f) => !['y', 'm'].includes(all.get(`CONFIG_${f}`) ?? 'n'))).toEqual([])
  })
})
