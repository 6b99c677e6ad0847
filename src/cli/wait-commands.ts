// xc wait: the guest verbs' waits from the command line, on a running
// cluster's budgets (scaled as its boots measured): a command until it
// succeeds (or fails), a port, a file.
import { attachCluster } from '../cluster/attach.ts'
import type { WaitUntilOptions } from '../cluster/budgets.ts'
import { NAME_HELP, clusterName, vmNumber, type Command } from './args.ts'
import { CliUsageError } from './cli-error.ts'

const VALUED = ['name', 'timeout', 'budget', 'interval', 'port', 'proto', 'file'] as const
const BOOLS = ['fails'] as const

interface WaitArgs {
  values: Partial<Record<(typeof VALUED)[number], string>>
  fails: boolean
  num: number
  command: string[]
}

/** One option of xc wait into `into`; false when `arg` is not one. */
function option(arg: string, next: () => string | undefined, into: WaitArgs): boolean {
  const m = /^--([a-z]+)(?:=(.*))?$/s.exec(arg)
  if (!m) return false
  const [, key, value] = m
  if ((BOOLS as readonly string[]).includes(key)) {
    if (value !== undefined) throw new CliUsageError(`option \`--${key}\` takes no value`)
    into.fails = true
    return true
  }
  if (!(VALUED as readonly string[]).includes(key)) return false
  const v = value ?? next()
  if (v === undefined || v.startsWith('--')) throw new CliUsageError(`option \`--${key}\` needs a value`)
  into.values[key as (typeof VALUED)[number]] = v
  return true
}

/**
 * Options before N; after N the command. A command given as one argument
 * may be followed by options too (`xc wait 1 'ip route | grep bgp' --timeout=60`);
 * otherwise everything after N is the command's own.
 */
export function parseWaitArgs(args: string[]): WaitArgs {
  const out: WaitArgs = { values: {}, fails: false, num: 0, command: [] }
  const rest = [...args]
  while (rest[0]?.startsWith('--')) {
    const arg = rest.shift()!
    if (!option(arg, () => rest.shift(), out)) throw new CliUsageError(`unknown option \`${arg}\``)
  }
  out.num = vmNumber(rest.shift())
  const tail = rest.slice(1)
  const probe: WaitArgs = { values: {}, fails: false, num: 0, command: [] }
  const trailing = tail.length > 0 && tail.every((a) => a.startsWith('--') && option(a, () => undefined, probe))
  if (trailing) {
    out.command = rest.slice(0, 1)
    Object.assign(out.values, probe.values)
    out.fails ||= probe.fails
  } else out.command = rest
  return out
}

/** A positive number of seconds, as ms. */
function seconds(key: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) throw new CliUsageError(`expected \`--${key}\` to be a positive number of seconds, got \`${text}\``)
  return Math.round(n * 1000)
}

const wait: Command = {
  name: 'wait',
  summary: "Wait on VM N until a command succeeds (or fails), a port listens or a file exists, within a budget scaled for this machine; exit 1 with the last attempt's output when it runs out.",
  usage: "wait [options] N command... | wait N 'command' [options] | wait [options] --port=P N | wait [options] --file=PATH N",
  options: [
    NAME_HELP,
    '  --timeout=S   nominal bound in seconds (scaled like a budget); default: the budget',
    '  --budget=NAME a named budget (default, boot, daemon, bgpSession, ospfAdjacency, routeConvergence, vrrpFailover, or the cluster\'s own)',
    '  --interval=S  time between attempts (default 0.25)',
    '  --fails       wait until the command fails instead',
    '  --port=P      wait until a socket listens on port P in the VM (--proto=udp: is bound)',
    '  --file=PATH   wait until PATH exists in the VM',
    "                options go before N, or after a command given as one argument",
  ].join('\n'),
  async run(args) {
    const a = parseWaitArgs(args)
    const what = [a.command.length > 0, a.values.port !== undefined, a.values.file !== undefined].filter(Boolean).length
    if (what !== 1) throw new CliUsageError('give exactly one of a command, --port and --file')
    if (a.fails && !a.command.length) throw new CliUsageError('--fails goes with a command')
    if (a.values.proto !== undefined && a.values.port === undefined) throw new CliUsageError('--proto goes with --port')
    if (a.values.proto !== undefined && a.values.proto !== 'tcp' && a.values.proto !== 'udp') throw new CliUsageError(`expected \`--proto\` to be tcp or udp, got \`${a.values.proto}\``)
    const o: WaitUntilOptions = { timeout: seconds('timeout', a.values.timeout), budget: a.values.budget, interval: seconds('interval', a.values.interval) }
    const cluster = await attachCluster(clusterName(a.values.name))
    const vm = cluster.vm(a.num)
    if (a.values.port !== undefined) {
      if (!/^\d{1,5}$/.test(a.values.port) || Number(a.values.port) > 65535) throw new CliUsageError(`expected \`--port\` to be a port number, got \`${a.values.port}\``)
      await vm.waitForPort(Number(a.values.port), { ...o, proto: a.values.proto as 'tcp' | 'udp' | undefined })
    } else if (a.values.file !== undefined) {
      await vm.waitForFile(a.values.file, o)
    } else if (a.fails) {
      const r = await vm.waitUntilFails(a.command.join(' '), o)
      process.stdout.write(r.stdout)
      process.stderr.write(r.stderr)
    } else {
      process.stdout.write(await vm.waitUntilSucceeds(a.command.join(' '), o))
    }
    return 0
  },
}

export const waitCommands: Command[] = [wait]
