// The checks of the networking options: `network` (user, bridge, or a
// net-setup hook on a base) and `hosts` (a cluster across simulated hosts).
// Pure; they add their problems to the caller's Checker.
import { isInt, show, type Checker } from '../plan/check.ts'
import type { NetSetup } from '../plan/net-setup.ts'
import { DEFAULTS, vmName, type NetworkMode } from '../plan/spec.ts'

/** A custom network: a net-setup hook on top of a base backend (xcluster's `__net_setup`). */
export interface CustomNetwork {
  base?: NetworkMode
  netSetup: NetSetup
}

/** The mode and the net-setup hook of `network`. */
export function checkNetwork(c: Checker, nw: unknown): { network: NetworkMode; netSetup?: NetSetup } {
  if (nw === undefined) return { network: DEFAULTS.network }
  if (nw === 'user' || nw === 'bridge') return { network: nw }
  if (typeof nw === 'object' && nw !== null && 'netSetup' in nw) {
    const custom = nw as CustomNetwork
    let network: NetworkMode = DEFAULTS.network
    let netSetup: NetSetup | undefined
    if (custom.base !== undefined && custom.base !== 'user' && custom.base !== 'bridge') {
      c.add(`Expected \`network.base\` to be 'user' or 'bridge', got ${show(custom.base)}`)
    } else network = custom.base ?? 'user'
    if (typeof custom.netSetup !== 'function' && (typeof custom.netSetup !== 'string' || custom.netSetup === '')) {
      c.add(`Expected \`network.netSetup\` to be a function (vm, net, context) => string[] or the path of an executable, got ${show(custom.netSetup)}`)
    } else netSetup = custom.netSetup
    return { network, netSetup }
  }
  c.add(`Expected \`network\` to be 'user', 'bridge' or { base, netSetup }, got ${show(nw)}`)
  return { network: DEFAULTS.network }
}

/** The VM numbers per simulated host; `vms` is every VM of the cluster. */
export function checkHosts(c: Checker, h: unknown, network: unknown, vms: Set<number>): Record<string, number[]> | undefined {
  if (h === undefined) return undefined
  let hosts: Record<string, number[]> | undefined
  if (typeof h !== 'object' || h === null || Array.isArray(h) || Object.keys(h).length < 2) {
    c.add(`Expected \`hosts\` to name at least two hosts, each with its VM numbers, e.g. { a: [1], b: [2] }, got ${show(h)}`)
  } else {
    hosts = {}
    const seen = new Map<number, string>()
    for (const [name, list] of Object.entries(h as Record<string, unknown>)) {
      if (!/^[a-z][a-z0-9]{0,7}$/.test(name)) c.add(`Expected host names of 1-8 lower-case letters and digits (they name namespaces), got \`${name}\``)
      if (!Array.isArray(list) || list.some((v) => !isInt(v))) {
        c.add(`Expected \`hosts.${name}\` to be a list of VM numbers, got ${show(list)}`)
        continue
      }
      for (const v of list as number[]) {
        if (seen.has(v)) c.add(`${vmName(v)} is on two hosts: ${seen.get(v)} and ${name}`)
        seen.set(v, name)
      }
      hosts[name] = [...(list as number[])]
    }
  }
  if (network !== 'bridge') c.add("`hosts` needs network: 'bridge' (each host is a namespace with bridges joined by VXLAN)")
  for (const [name, list] of Object.entries(hosts ?? {})) {
    for (const v of list) if (!vms.has(v)) c.add(`\`hosts.${name}\` lists ${vmName(v)}, which is not in the cluster`)
  }
  return hosts
}
