// What every xc command shares: its shape, its usage text, and the parsing
// of its arguments (node:util parseArgs, strict; cluster flags as --key=value).
import { parseArgs } from 'node:util'
import { checkOptions } from '../cluster/options.ts'
import { ClusterConfigError } from '../errors.ts'
import { CliUsageError } from './cli-error.ts'

export interface Command {
  name: string
  summary: string
  usage: string
  options?: string
  run(args: string[]): Promise<number>
}

/**
 * The commands that take no --name, and why (one line each): their --help
 * says it, and `--name` is a usage error that says it too.
 */
export const NAMELESS: Readonly<Record<string, string>> = {
  ls: 'it lists every cluster of the home',
  setup: 'setup is machine-wide (the host packages and the VM image it builds are shared by every cluster)',
  packages: 'package layers are shared by every cluster of the home (a cache under XCLUSTER_HOME)',
  snapshot: 'snapshots are shared by every cluster of the home (keyed by configuration)',
  nsadd: 'it prepares the host for a user, not a cluster',
  nsdel: 'it undoes nsadd for a user, not a cluster',
}

/** The usage text of `cmd`. */
export function usageOf(cmd: Command): string {
  const nameless = NAMELESS[cmd.name] ? `\n\nNo --name: ${NAMELESS[cmd.name]}.` : ''
  return `Usage: xc ${cmd.usage}\n\n${cmd.summary}${cmd.options ? `\n\nOptions:\n${cmd.options}` : ''}${nameless}`
}

/** Throws the usage error of a command in NAMELESS when `args` give it a --name. */
export function rejectName(cmd: Command, args: string[]): void {
  const why = NAMELESS[cmd.name]
  if (why && args.some((a) => a === '--name' || a.startsWith('--name='))) throw new CliUsageError(`--name does not apply: ${why}`)
}

export const NAME_OPT = { name: { type: 'string' as const } }
export const NAME_HELP = '  --name=NAME   the cluster (default: default); --name NAME works too'

/** The cluster name --name gave (`default` without one); a name no cluster can have is a ClusterConfigError, as at start. */
export function clusterName(text: string | undefined): string {
  if (text === undefined) return 'default'
  const problems = checkOptions({ name: text }).problems
  if (problems.length) throw new ClusterConfigError(problems)
  return text
}
export const CLUSTER_FLAGS = ['nvm', 'nrouters', 'ntesters', 'nets-vm', 'nets-router', 'nets-tester', 'mem', 'smp', 'network', 'net-setup', 'accel', 'prefix', 'topology', 'name', 'tools', 'std-addresses', 'tb-size', 'packages', 'snapshot', 'rootless', 'user-nets', 'hosts', 'rc-failures', 'kernel']
export const CLUSTER_OPTIONS = `  --name=NAME            the cluster (default: default); --name NAME works too
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
  --kernel=NAME|PATH     the kernel: xcluster (default, the harness's), debian (Debian's cloud kernel),
                         one built by \`xc kernel build --name=NAME\`, or a file (XCLUSTER_KERNEL, with XCLUSTER_MODULES)
  --tools=yes|no         real network tools and ssh in the VMs (default no)
  --std-addresses=yes|no every NIC beyond eth0 gets its net's std addresses (default no)
  --packages=frr,ipvsadm Debian packages in every VM (XCLUSTER_PACKAGES); implies --tools=yes
  --snapshot=yes|no      start from a snapshot of this configuration, saved at its first start (XCLUSTER_SNAPSHOT)
  --rootless=yes|no      bridge mode in a user namespace of its own (XCLUSTER_ROOTLESS; default: without CAP_NET_ADMIN)
  --user-nets=private|shared  user mode's nets in a namespace of the cluster's own, or on the host's loopback (XCLUSTER_USER_NETS)
  --topology=NAME        a standard xcluster topology (xnet, dual-path, ...); implies --tools=yes
  --rc-failures=report|fail
                         an rc script that exits non-zero or is not executable: said on stderr
                         (report, the default), or the start fails naming it (XCLUSTER_RC_FAILURES)
  --hosts=a=root@10.0.0.2,b=root@10.0.0.3:2222
                         run across ssh hosts (XCLUSTER_HOSTS; needs --network=bridge); or --hosts=FILE.json,
                         the \`hosts\` option as JSON (key, knownHosts, vms, dir, underlay per host)`

/**
 * Split args into cluster flags (--key=value or --key value), per-VM flags,
 * the command's own boolean flags (`bools`) and valued flags (`valued`), and
 * positionals; anything else is bad use.
 */
export function parseClusterArgs(args: string[], bools: string[] = [], valued: string[] = []): { flags: Record<string, string>; positionals: string[]; bools: Set<string> } {
  const flags: Record<string, string> = {}
  const positionals: string[] = []
  const given = new Set<string>()
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
    if (bools.includes(key)) {
      if (value !== undefined) throw new CliUsageError(`option \`--${key}\` takes no value`)
      given.add(key)
      continue
    }
    if (!CLUSTER_FLAGS.includes(key) && !perVm && !valued.includes(key)) throw new CliUsageError(`unknown option \`--${key}\``)
    const v = value ?? (args[i + 1]?.startsWith('--') ? undefined : args[++i])
    if (v === undefined) throw new CliUsageError(`option \`--${key}\` needs a value`)
    flags[key] = v
  }
  return { flags, positionals, bools: given }
}

/** The values parseArgs gives for `options` T. */
export type ArgValues<T> = { [K in keyof T]?: T[K] extends { type: 'string' } ? string : boolean }

/** Parse `args` strictly against `options`, with between positionals[0] and positionals[1] positionals. */
export function strictArgs<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T, positionals: [number, number]): { values: ArgValues<T>; positionals: string[] } {
  let parsed
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw new CliUsageError((e as Error).message.split('\n')[0])
  }
  const n = parsed.positionals.length
  if (n < positionals[0]) throw new CliUsageError(`expected at least ${positionals[0]} argument${positionals[0] === 1 ? '' : 's'}`)
  if (n > positionals[1]) throw new CliUsageError(`unexpected argument \`${parsed.positionals[positionals[1]]}\``)
  return { values: parsed.values as ArgValues<T>, positionals: parsed.positionals }
}

export function vmNumber(text: string | undefined): number {
  if (!text || !/^\d{1,3}$/.test(text)) throw new CliUsageError(`expected a VM number, got \`${text ?? ''}\``)
  return Number(text)
}

