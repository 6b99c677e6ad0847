// Cluster options from the command line and from xcluster's environment
// variables (`__nvm`, `__nets_vm`, `__netsNNN`, ...), the command line
// winning; each setting remembers where it came from (for `xc env`).
import { existsSync, readFileSync } from 'node:fs'
import type { ClusterOptions } from '../cluster/options.ts'
import { DEFAULTS } from '../plan/spec.ts'

export type Source = 'default' | 'environment' | 'option'

export interface Setting {
  key: string
  value: unknown
  source: Source
  /** The variable or flag it came from. */
  from?: string
}

const INTS = { nvm: '__nvm', nrouters: '__nrouters', ntesters: '__ntesters', mem: '__mem', smp: '__smp', tbSize: '__tb_size' } as const
const LISTS = { netsVm: '__nets_vm', netsRouter: '__nets_router', netsTester: '' } as const
const PER_VM = { nets: '__nets', memVm: '__mem', smpVm: '__smp' } as const

const flagOf = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** Parse a value given as text: integers stay integers, "0,1,2" becomes a net list. */
function asInt(text: string): number | string {
  return /^-?\d+$/.test(text) ? Number(text) : text
}
function asList(text: string): Array<number | string> {
  return text.split(',').map((s) => asInt(s.trim()))
}

/**
 * Options from `flags` (name -> text, as --name=value gave them) and `env`.
 * Unknown flags are the caller's to reject; values are checked by checkOptions.
 */
export function resolveSettings(flags: Record<string, string>, env: NodeJS.ProcessEnv): { options: ClusterOptions; settings: Setting[] } {
  const settings: Setting[] = []
  const options: Record<string, unknown> = {}
  const set = (key: string, value: unknown, source: Source, from?: string): void => {
    options[key] = value
    const i = settings.findIndex((s) => s.key === key)
    if (i >= 0) settings.splice(i, 1)
    settings.push({ key, value, source, from })
  }
  for (const [key, v] of Object.entries(INTS)) {
    const d = (DEFAULTS as Record<string, unknown>)[key]
    if (d !== undefined) settings.push({ key, value: d, source: 'default' })
    if (env[v] !== undefined && env[v] !== '') set(key, asInt(env[v]!), 'environment', v)
    const f = flagOf(key)
    if (flags[f] !== undefined) set(key, asInt(flags[f]), 'option', `--${f}`)
  }
  for (const [key, v] of Object.entries(LISTS)) {
    settings.push({ key, value: (DEFAULTS as Record<string, unknown>)[key], source: 'default' })
    if (v && env[v]) set(key, asList(env[v]!), 'environment', v)
    const f = flagOf(key)
    if (flags[f] !== undefined) set(key, asList(flags[f]), 'option', `--${f}`)
  }
  // Per VM: __nets201=0,1,3, __mem201=256, __smp1=2 (and --nets201=... on the command line).
  for (const [key, prefix] of Object.entries(PER_VM)) {
    const per: Record<number, unknown> = {}
    const parse = (text: string): unknown => (key === 'nets' ? asList(text) : asInt(text))
    for (const [name, text] of Object.entries(env)) {
      const m = new RegExp(`^${prefix}(\\d{1,3})$`).exec(name)
      if (m && text) {
        per[Number(m[1])] = parse(text)
        settings.push({ key: `${key}[${Number(m[1])}]`, value: per[Number(m[1])], source: 'environment', from: name })
      }
    }
    for (const [name, text] of Object.entries(flags)) {
      const m = new RegExp(`^${prefix.replace(/^__/, '')}(\\d{1,3})$`).exec(name)
      if (m) {
        per[Number(m[1])] = parse(text)
        const k = `${key}[${Number(m[1])}]`
        const i = settings.findIndex((s) => s.key === k)
        if (i >= 0) settings.splice(i, 1)
        settings.push({ key: k, value: per[Number(m[1])], source: 'option', from: `--${name}` })
      }
    }
    if (Object.keys(per).length) options[key] = per
  }
  // Network: --network, XCLUSTER_NETWORK; a net-setup script (__net_setup) on top of it.
  settings.push({ key: 'network', value: DEFAULTS.network, source: 'default' })
  let network: string = DEFAULTS.network
  if (env.XCLUSTER_NETWORK) {
    network = env.XCLUSTER_NETWORK
    set('network', network, 'environment', 'XCLUSTER_NETWORK')
  }
  if (flags.network !== undefined) {
    network = flags.network
    set('network', network, 'option', '--network')
  }
  const netSetup = flags['net-setup'] ?? env.__net_setup
  if (netSetup) {
    set('network', { base: network, netSetup }, flags['net-setup'] ? 'option' : 'environment', flags['net-setup'] ? '--net-setup' : '__net_setup')
  }
  for (const key of ['accel', 'topology', 'prefix', 'kernel']) {
    if (flags[key] !== undefined) set(key, flags[key], 'option', `--${key}`)
  }
  // --rc-failures=report|fail (XCLUSTER_RC_FAILURES): an rc script that fails at boot is said, or a VmBootError.
  const rc = flags['rc-failures'] ?? env.XCLUSTER_RC_FAILURES
  if (rc !== undefined && rc !== '') set('rcFailures', rc, flags['rc-failures'] !== undefined ? 'option' : 'environment', flags['rc-failures'] !== undefined ? '--rc-failures' : 'XCLUSTER_RC_FAILURES')
  // --tools, --std-addresses, --snapshot, --rootless =yes|no (XCLUSTER_TOOLS, ...): booleans as xcluster's variables spelt them.
  for (const [key, flag, variable] of [['tools', 'tools', 'XCLUSTER_TOOLS'], ['stdAddresses', 'std-addresses', 'XCLUSTER_STD_ADDRESSES'], ['snapshot', 'snapshot', 'XCLUSTER_SNAPSHOT'], ['rootless', 'rootless', 'XCLUSTER_ROOTLESS']] as const) {
    const text = flags[flag] ?? env[variable]
    if (text === undefined || text === '') continue
    const v = /^(yes|true|1|on)$/i.test(text) ? true : /^(no|false|0|off)$/i.test(text) ? false : text
    set(key, v, flags[flag] !== undefined ? 'option' : 'environment', flags[flag] !== undefined ? `--${flag}` : variable)
  }
  // --user-nets=private|shared (XCLUSTER_USER_NETS): where user mode's nets live.
  const userNets = flags['user-nets'] ?? env.XCLUSTER_USER_NETS
  if (userNets !== undefined && userNets !== '') set('userNets', userNets, flags['user-nets'] !== undefined ? 'option' : 'environment', flags['user-nets'] !== undefined ? '--user-nets' : 'XCLUSTER_USER_NETS')
  // --packages=frr,keepalived (XCLUSTER_PACKAGES): Debian packages in every VM.
  const pkgs = flags.packages ?? env.XCLUSTER_PACKAGES
  if (pkgs !== undefined && pkgs !== '') {
    set('packages', pkgs.split(',').map((p) => p.trim()).filter(Boolean), flags.packages !== undefined ? 'option' : 'environment', flags.packages !== undefined ? '--packages' : 'XCLUSTER_PACKAGES')
  }
  // --hosts=a=root@10.0.0.2,b=root@10.0.0.3:2222 or --hosts=FILE.json (XCLUSTER_HOSTS): ssh hosts.
  const hosts = flags.hosts ?? env.XCLUSTER_HOSTS
  if (hosts !== undefined && hosts !== '') set('hosts', parseHostsFlag(hosts), flags.hosts !== undefined ? 'option' : 'environment', flags.hosts !== undefined ? '--hosts' : 'XCLUSTER_HOSTS')
  if (flags.name !== undefined) set('name', flags.name, 'option', '--name')
  else settings.push({ key: 'name', value: 'default', source: 'default' })
  return { options: options as ClusterOptions, settings }
}

/**
 * The `hosts` option of --hosts: a JSON file with it, or name=user@address[:port]
 * pairs separated by commas. What is not either stays as given, for the
 * option check to name.
 */
export function parseHostsFlag(text: string): unknown {
  if (existsSync(text)) {
    try {
      return JSON.parse(readFileSync(text, 'utf8'))
    } catch (e) {
      return `${text} (not JSON: ${(e as Error).message})`
    }
  }
  const out: Record<string, { ssh: string; port?: number }> = {}
  for (const part of text.split(',')) {
    const m = /^([^=\s]+)=([^@\s]+@(?:\[[^\]]+\]|[^:\s]+))(?::(\d+))?$/.exec(part.trim())
    if (!m) return text
    out[m[1]] = { ssh: m[2], ...(m[3] ? { port: Number(m[3]) } : {}) }
  }
  return out
}

/**
 * xcluster's per-VM variables (`__nets203`, `__mem203`, `__smp203`) from the
 * environment for VMs that `vms` does not have: dropped with a warning, as
 * xcluster ignored them (an environment may set them for other clusters).
 * The same on the command line stays, for the check to refuse.
 */
export function dropEnvForAbsentVms(options: ClusterOptions, settings: Setting[], vms: number[], warn: (line: string) => void): void {
  for (const s of settings) {
    const m = /^(nets|memVm|smpVm)\[(\d+)\]$/.exec(s.key)
    if (!m || s.source !== 'environment' || vms.includes(Number(m[2]))) continue
    const per = options[m[1] as 'nets' | 'memVm' | 'smpVm'] as Record<number, unknown> | undefined
    if (per) delete per[Number(m[2])]
    warn(`${s.from} is for vm-${m[2].padStart(3, '0')}, which this cluster does not have: ignored`)
  }
}
