// What every xc command shares: its shape, its usage text, and the parsing
// of its arguments (node:util parseArgs, strict; cluster flags as --key=value).
import { parseArgs } from 'node:util'
import { CliUsageError } from './cli-error.ts'

export interface Command {
  name: string
  summary: string
  usage: string
  options?: string
  run(args: string[]): Promise<number>
}

/** The usage text of `cmd`. */
export function usageOf(cmd: Command): string {
  return `Usage: xc ${cmd.usage}\n\n${cmd.summary}${cmd.options ? `\n\nOptions:\n${cmd.options}` : ''}`
}

export const NAME_OPT = { name: { type: 'string' as const } }
export const CLUSTER_FLAGS = ['nvm', 'nrouters', 'ntesters', 'nets-vm', 'nets-router', 'nets-tester', 'mem', 'smp', 'network', 'net-setup', 'accel', 'prefix', 'topology', 'name', 'tools', 'tb-size']
export const CLUSTER_OPTIONS = `  --name=NAME            cluster name (default: default)
  --nvm=N                cluster nodes 1-200 (__nvm; default 4)
  --nrouters=N           routers 0-20 (__nrouters; default 2)
  --ntesters=N           testers 0-20 (__ntesters; default 0)
  --nets-vm=0,1          nets of nodes (__nets_vm)
  --nets-router=0,1,2    nets of routers (__nets_router)
  --nets-tester=0,2      nets of testers
  --netsNNN=0,1,3        nets of VM NNN (__netsNNN)
  --mem=MiB              memory per VM (__mem; default 128); --memNNN (__memNNN)
  --smp=N                vCPUs per VM (__smp); --smpNNN (__smpNNN)
  --tb-size=MiB          TCG translation cache per VM (__tb_size; 24 for 100-VM clusters)
  --network=user|bridge  networking (XCLUSTER_NETWORK; default user)
  --net-setup=PATH       net-setup script, run as PATH <vm> <net> (__net_setup)
  --accel=auto|kvm|tcg   accelerator (default auto)
  --tools=yes|no         real network tools and ssh in the VMs (default no)
  --topology=NAME        a standard xcluster topology (xnet, dual-path, ...); implies --tools=yes`

/** Split args into cluster flags (--key=value), per-VM flags and positionals; anything else is bad use. */
export function parseClusterArgs(args: string[], extra: string[] = []): { flags: Record<string, string>; positionals: string[]; bools: Set<string> } {
  const flags: Record<string, string> = {}
  const positionals: string[] = []
  const bools = new Set<string>()
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (!a.startsWith('--')) {
      positionals.push(a)
      continue
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(a)
    if (!m) throw new CliUsageError(`bad option \`${a}\``)
    const [, key, value] = m
    const perVm = /^(nets|mem|smp)\d{1,3}$/.test(key)
    if (extra.includes(key) && value === undefined) {
      bools.add(key)
      continue
    }
    if (!CLUSTER_FLAGS.includes(key) && !perVm && !extra.includes(key)) throw new CliUsageError(`unknown option \`--${key}\``)
    const v = value ?? args[++i]
    if (v === undefined) throw new CliUsageError(`option \`--${key}\` needs a value`)
    flags[key] = v
  }
  return { flags, positionals, bools }
}

export function strictArgs<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T, positionals: [number, number]) {
  let parsed
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw new CliUsageError((e as Error).message.split('\n')[0])
  }
  const n = parsed.positionals.length
  if (n < positionals[0]) throw new CliUsageError(`expected at least ${positionals[0]} argument${positionals[0] === 1 ? '' : 's'}`)
  if (n > positionals[1]) throw new CliUsageError(`unexpected argument \`${parsed.positionals[positionals[1]]}\``)
  return parsed
}

export function vmNumber(text: string | undefined): number {
  if (!text || !/^\d{1,3}$/.test(text)) throw new CliUsageError(`expected a VM number, got \`${text ?? ''}\``)
  return Number(text)
}

