// The checks of the networking options: `network` (user, bridge, or a
// net-setup hook on a base) and `hosts` (a cluster across simulated hosts,
// or across ssh hosts). They add their problems to the caller's Checker;
// only an ssh host's key and known_hosts files are looked for.
import { isInt, show, type Checker } from '../pure/check.ts'
import type { NetSetup } from '../plan/net-setup.ts'
import { existsSync } from 'node:fs'
import { isIPv4 } from 'node:net'
import { homedir } from 'node:os'
import { resolve } from 'node:path'
import { DEFAULT_REMOTE_DIR, DEFAULTS, vmName, type NetworkMode, type SshHostSpec } from '../plan/spec.ts'

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

/** `user@address` of an ssh host: a user name, and an IPv4 address, a host name or a bracketed IPv6 address. Pure. */
export function parseSshTarget(s: string): { user: string; address: string } | undefined {
  const m = /^([a-z_][a-z0-9_.-]*)@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)$/.exec(s)
  return m ? { user: m[1], address: m[2].replace(/^\[|\]$/g, '') } : undefined
}

const SSH_KEYS = new Set(['ssh', 'port', 'key', 'knownHosts', 'vms', 'dir', 'underlay'])

/** One ssh host `name` of `hosts`: its VMs, and how to reach it. */
function checkSshHost(c: Checker, name: string, o: Record<string, unknown>): { vms: number[]; spec?: SshHostSpec } {
  const at = (k: string): string => `\`hosts.${name}.${k}\``
  for (const k of Object.keys(o)) if (!SSH_KEYS.has(k)) c.add(`Unknown option ${at(k)}; an ssh host has ${[...SSH_KEYS].join(', ')}`)
  const target = typeof o.ssh === 'string' ? parseSshTarget(o.ssh) : undefined
  if (!target) c.add(`Expected ${at('ssh')} to be 'user@address' (e.g. 'root@10.0.0.2'), got ${show(o.ssh)}`)
  const port = o.port ?? 22
  if (!isInt(port) || (port as number) < 1 || (port as number) > 65535) c.add(`Expected ${at('port')} to be a TCP port (1-65535), got ${show(o.port)}`)
  for (const k of ['key', 'knownHosts'] as const) {
    if (o[k] === undefined) continue
    if (typeof o[k] !== 'string' || !o[k]) c.add(`Expected ${at(k)} to be a file, got ${show(o[k])}`)
    else if (!existsSync(expandHome(o[k] as string))) c.add(`${at(k)}: no file ${o[k]}`)
  }
  const dir = o.dir ?? DEFAULT_REMOTE_DIR
  // Not / itself, nor a path through . or ..: the cluster's files go to <dir>/run, and a cleanup removes only <dir>/run/<cluster>-<host>.
  if (typeof dir !== 'string' || !/^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+\/?$/.test(dir) || dir.split('/').some((c) => c === '.' || c === '..')) c.add(`Expected ${at('dir')} to be an absolute path below / (letters, digits, . _ -; no . or .. components), got ${show(o.dir)}`)
  if (o.underlay !== undefined && !(typeof o.underlay === 'string' && isIPv4(o.underlay))) c.add(`Expected ${at('underlay')} to be the host's IPv4 address that the other hosts reach, got ${show(o.underlay)}`)
  let vms: number[] = []
  if (o.vms !== undefined) {
    if (!Array.isArray(o.vms) || o.vms.some((v) => !isInt(v))) c.add(`Expected ${at('vms')} to be a list of VM numbers, got ${show(o.vms)}`)
    else vms = [...(o.vms as number[])]
  }
  if (!target) return { vms }
  return {
    vms,
    spec: {
      ...target, port: port as number, dir: (dir as string).replace(/\/+$/, '') || '/',
      ...(typeof o.key === 'string' ? { key: expandHome(o.key) } : {}),
      ...(typeof o.knownHosts === 'string' ? { knownHosts: expandHome(o.knownHosts) } : {}),
      ...(typeof o.underlay === 'string' ? { underlay: o.underlay } : {}),
    },
  }
}

/** `~/x` as the user's home + x; a relative path from the working directory. */
function expandHome(p: string): string {
  return resolve(p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p)
}

/**
 * The VM numbers per host, and for ssh hosts how to reach each; `vms` is
 * every VM of the cluster. Simulated hosts (namespaces here) list their VMs:
 * { a: [1], b: [2] }; ssh hosts are objects: { a: { ssh: 'root@10.0.0.2', vms: [1] } }.
 */
export function checkHosts(c: Checker, h: unknown, network: unknown, vms: Set<number>): { hosts?: Record<string, number[]>; sshHosts?: Record<string, SshHostSpec> } {
  if (h === undefined) return {}
  let hosts: Record<string, number[]> | undefined
  let sshHosts: Record<string, SshHostSpec> | undefined
  const entries = typeof h === 'object' && h !== null && !Array.isArray(h) ? Object.entries(h as Record<string, unknown>) : []
  const ssh = entries.length > 0 && entries.every(([, v]) => typeof v === 'object' && v !== null && !Array.isArray(v))
  if (entries.some(([, v]) => typeof v === 'object' && v !== null && !Array.isArray(v)) && !ssh) {
    c.add(`Expected \`hosts\` to be all simulated hosts (VM lists, { a: [1], b: [2] }) or all ssh hosts ({ a: { ssh: 'root@10.0.0.2' } }), got both`)
  } else if (entries.length < (ssh ? 1 : 2)) {
    c.add(`Expected \`hosts\` to name at least two hosts, each with its VM numbers, e.g. { a: [1], b: [2] }, or ssh hosts, e.g. { a: { ssh: 'root@10.0.0.2' } }, got ${show(h)}`)
  } else {
    hosts = {}
    if (ssh) sshHosts = {}
    const seen = new Map<number, string>()
    for (const [name, list] of entries) {
      if (!/^[a-z][a-z0-9]{0,7}$/.test(name)) c.add(`Expected host names of 1-8 lower-case letters and digits (they name namespaces), got \`${name}\``)
      let nums: number[]
      if (ssh) {
        const r = checkSshHost(c, name, list as Record<string, unknown>)
        nums = r.vms
        if (r.spec) sshHosts![name] = r.spec
      } else if (!Array.isArray(list) || list.some((v) => !isInt(v))) {
        c.add(`Expected \`hosts.${name}\` to be a list of VM numbers, got ${show(list)}`)
        continue
      } else nums = list as number[]
      for (const v of nums) {
        if (seen.has(v)) c.add(`${vmName(v)} is on two hosts: ${seen.get(v)} and ${name}`)
        seen.set(v, name)
      }
      hosts[name] = [...nums]
    }
  }
  if (network !== 'bridge') c.add(ssh ? "ssh `hosts` need network: 'bridge' (each host gets a namespace with bridges, joined by VXLAN)" : "`hosts` needs network: 'bridge' (each host is a namespace with bridges joined by VXLAN)")
  for (const [name, list] of Object.entries(hosts ?? {})) {
    for (const v of list) if (!vms.has(v)) c.add(`\`hosts.${name}\` lists ${vmName(v)}, which is not in the cluster`)
  }
  return { hosts, sshHosts }
}
