// The xc commands. Each parses its own arguments (node:util parseArgs, strict)
// and works on the same library the Vitest fixtures use.
import { parseArgs } from 'node:util'
import { writeFileSync } from 'node:fs'
import { execa } from 'execa'
import { fileURLToPath } from 'node:url'
import { attachCluster, findCluster } from '../cluster/attach.ts'
import { cleanupDeadClusters } from '../cluster/cleanup.ts'
import { startCluster } from '../cluster/start-cluster.ts'
import { listStates, clusterAlive } from '../cluster/state-dir.ts'
import { sameProcess } from '../cluster/proc.ts'
import { buildImage } from '../image/build-image.ts'
import { xclusterHome } from '../image/home.ts'
import { checkOptions } from '../plan/options.ts'
import { ClusterConfigError, XclusterError } from '../errors.ts'
import { planCluster } from '../plan/plan.ts'
import { allocationOf } from '../net/port-block.ts'
import { topologySvg } from '../diagram/svg.ts'
import { getTopology } from '../topology/index.ts'
import { CliUsageError } from './cli-error.ts'
import { resolveSettings } from './settings.ts'
import { progressPrinter } from './progress.ts'
import { interactiveShell } from './interactive.ts'
import type { RunningVm } from '../cluster/running-vm.ts'

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

const NAME_OPT = { name: { type: 'string' as const } }
const CLUSTER_FLAGS = ['nvm', 'nrouters', 'ntesters', 'nets-vm', 'nets-router', 'nets-tester', 'mem', 'smp', 'network', 'net-setup', 'accel', 'prefix', 'topology', 'name', 'tools', 'tb-size']
const CLUSTER_OPTIONS = `  --name=NAME            cluster name (default: default)
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
function parseClusterArgs(args: string[], extra: string[] = []): { flags: Record<string, string>; positionals: string[]; bools: Set<string> } {
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

function strictArgs<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T, positionals: [number, number]) {
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

function vmNumber(text: string | undefined): number {
  if (!text || !/^\d{1,3}$/.test(text)) throw new CliUsageError(`expected a VM number, got \`${text ?? ''}\``)
  return Number(text)
}

const setup: Command = {
  name: 'setup',
  summary: 'Install what the harness needs and build the VM image (what `npm run setup` does).',
  usage: 'setup [--image-only]',
  options: '  --image-only   only build the VM image (the packages and npm modules are in place)',
  async run(args) {
    const { values } = strictArgs(args, { 'image-only': { type: 'boolean' } }, [0, 0])
    if (!values['image-only']) {
      const script = fileURLToPath(new URL('../../scripts/setup.sh', import.meta.url))
      const r = await execa('bash', [script], { stdio: 'inherit', reject: false })
      return r.exitCode ?? 1
    }
    await buildImage({ log: (l) => process.stdout.write(`setup: ${l}\n`) })
    return 0
  },
}

const env: Command = {
  name: 'env',
  summary: 'Show the settings in force and where each came from (default, environment, option).',
  usage: 'env [cluster options] [--json]',
  options: CLUSTER_OPTIONS + '\n  --json                 machine-readable output',
  async run(args) {
    const { flags, positionals, bools } = parseClusterArgs(args, ['json'])
    if (positionals.length) throw new CliUsageError(`unexpected argument \`${positionals[0]}\``)
    const { settings, options } = resolveSettings(flags, process.env)
    const { problems } = checkOptions(options)
    if (bools.has('json')) {
      process.stdout.write(JSON.stringify({ settings, home: xclusterHome(), problems }, null, 2) + '\n')
    } else {
      process.stdout.write(`XCLUSTER_HOME ${xclusterHome()}\n`)
      for (const s of settings) {
        process.stdout.write(`${s.key.padEnd(14)} ${JSON.stringify(s.value).padEnd(24)} ${s.source}${s.from ? ` (${s.from})` : ''}\n`)
      }
      for (const p of problems) process.stdout.write(`problem: ${p}\n`)
    }
    return problems.length ? 1 : 0
  },
}

const start: Command = {
  name: 'start',
  summary: 'Start a cluster that keeps running after this command returns.',
  usage: 'start [cluster options] [overlay...]',
  options: CLUSTER_OPTIONS,
  async run(args) {
    const { flags, positionals } = parseClusterArgs(args)
    const { options } = resolveSettings(flags, process.env)
    const name = options.name ?? 'default'
    const home = xclusterHome()
    const running = findCluster(home, name)
    if (running) {
      throw new XclusterError(`cluster ${name} is already running (id ${running.id}); stop it with \`xc stop --name=${name}\` or pick another --name`)
    }
    if (positionals.length) options.overlays = positionals
    const progress = progressPrinter(process.stderr)
    options.onProgress = progress.event
    const cluster = await startCluster(options, { detached: true }).finally(() => progress.done())
    for (const vm of cluster.vms) vm.closeChannel()
    process.stdout.write(`cluster ${cluster.name} (${cluster.id}) is up: ${cluster.vms.map((v) => v.name).join(' ')}\n`)
    return 0
  },
}

const status: Command = {
  name: 'status',
  summary: 'Every VM of the cluster, alive or dead, its ports or namespace, and uptime.',
  usage: 'status [--name=NAME] [--json]',
  options: '  --name=NAME   cluster name (default: default)\n  --json        machine-readable output',
  async run(args) {
    const { values } = strictArgs(args, { ...NAME_OPT, json: { type: 'boolean' } }, [0, 0])
    const name = values.name ?? 'default'
    const state = listStates(xclusterHome()).find((s) => s.state.name === name && !s.state.stoppedAt)
    const alive = state ? clusterAlive(state.state) : false
    const vms = state
      ? Object.values(state.state.vms).sort((a, b) => a.num - b.num).map((v) => {
          const p = state.state.plan?.vms.find((x) => x.num === v.num)
          const up = !!v.process && sameProcess(v.process.pid, v.process.startTime)
          return {
            name: v.name,
            alive: up,
            pid: v.process?.pid,
            uptimeSec: up && v.startedAt ? Math.round((Date.now() - Date.parse(v.startedAt)) / 1000) : 0,
            telnet: state.state.network === 'user' ? `127.0.0.1:${p?.telnetPort}` : `${state.state.netns}:192.168.0.${v.num}:23`,
            ssh: state.state.network === 'user' ? `127.0.0.1:${p?.sshPort}` : `${state.state.netns}:192.168.0.${v.num}:22`,
          }
        })
      : []
    const out = { name, running: alive, id: state?.id ?? null, network: state?.state.network ?? null, netns: state?.state.netns ?? null, vms }
    if (values.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n')
    else if (!state) process.stdout.write(`cluster ${name}: none running\n`)
    else {
      process.stdout.write(`cluster ${name} (${out.id}), ${out.network} networking${out.netns ? `, namespace ${out.netns}` : ''}: ${alive ? 'running' : 'dead'}\n`)
      for (const v of vms) process.stdout.write(`  ${v.name}  ${v.alive ? 'alive' : 'dead '}  pid ${v.pid ?? '-'}  up ${v.uptimeSec}s  telnet ${v.telnet}\n`)
    }
    return 0
  },
}

const stop: Command = {
  name: 'stop',
  summary: 'Stop the cluster and remove its namespace, taps and files.',
  usage: 'stop [--name=NAME]',
  options: '  --name=NAME   cluster name (default: default)',
  async run(args) {
    const { values } = strictArgs(args, NAME_OPT, [0, 0])
    const cluster = await attachCluster(values.name ?? 'default')
    await cluster.stop()
    process.stdout.write(`cluster ${cluster.name} (${cluster.id}) stopped\n`)
    return 0
  },
}

const vm: Command = {
  name: 'vm',
  summary: 'An interactive root shell on VM N over telnet (type exit, or Ctrl-] to leave).',
  usage: 'vm N [--name=NAME]',
  options: '  --name=NAME   cluster name (default: default)',
  async run(args) {
    const { values, positionals } = strictArgs(args, NAME_OPT, [1, 1])
    const cluster = await attachCluster(values.name ?? 'default')
    return interactiveShell(cluster.vm(vmNumber(positionals[0])))
  },
}

const rsh: Command = {
  name: 'rsh',
  summary: "Run a command on VM N, print its output, exit with the command's exit code.",
  usage: 'rsh N command...',
  options: '  --name=NAME   cluster name (default: default); put it before N',
  async run(args) {
    let name = 'default'
    const rest = [...args]
    while (rest[0]?.startsWith('--')) {
      const m = /^--name=(.+)$/.exec(rest[0])
      if (!m) throw new CliUsageError(`unknown option \`${rest[0]}\``)
      name = m[1]
      rest.shift()
    }
    const num = vmNumber(rest.shift())
    if (!rest.length) throw new CliUsageError('expected a command')
    const cluster = await attachCluster(name)
    const r = await cluster.vm(num).execRaw(rest.join(' '), { timeout: 600_000 })
    process.stdout.write(r.stdout)
    process.stderr.write(r.stderr)
    return r.exitCode
  },
}

const rcp: Command = {
  name: 'rcp',
  summary: 'Copy a file from VM N to the host (xcluster rcp); --to copies from the host to the VM.',
  usage: 'rcp N REMOTE LOCAL | rcp --to N LOCAL REMOTE',
  options: '  --name=NAME   cluster name (default: default)\n  --to          copy from the host to the VM',
  async run(args) {
    const { values, positionals } = strictArgs(args, { ...NAME_OPT, to: { type: 'boolean' } }, [3, 3])
    const cluster = await attachCluster(values.name ?? 'default')
    const v = cluster.vm(vmNumber(positionals[0]))
    if (values.to) await v.putFile(positionals[1], positionals[2])
    else await v.getFile(positionals[1], positionals[2])
    return 0
  },
}

const scaleout: Command = {
  name: 'scaleout',
  summary: 'Add VMs to the running cluster, with the same rules as start (role by number, nets, memory).',
  usage: 'scaleout N... [--name=NAME] [--netsNNN=0,1 ...]',
  options: '  --name=NAME   cluster name (default: default)\n  --netsNNN, --memNNN, --smpNNN as for start (and __netsNNN etc.)',
  async run(args) {
    const { flags, positionals } = parseClusterArgs(args)
    if (!positionals.length) throw new CliUsageError('expected at least one VM number')
    const nums = positionals.map(vmNumber)
    const { options } = resolveSettings(flags, process.env)
    const cluster = await attachCluster(options.name ?? 'default')
    const progress = progressPrinter(process.stderr)
    const vms = await cluster.scaleOut(nums, { nets: options.nets, memVm: options.memVm, smpVm: options.smpVm }).finally(() => progress.done())
    for (const v of vms) v.closeChannel()
    process.stdout.write(`started ${vms.map((v) => v.name).join(' ')}\n`)
    return 0
  },
}

const scalein: Command = {
  name: 'scalein',
  summary: 'Stop and remove VMs from the running cluster.',
  usage: 'scalein N... [--name=NAME]',
  options: '  --name=NAME   cluster name (default: default)',
  async run(args) {
    const { values, positionals } = strictArgs(args, NAME_OPT, [1, 240])
    const cluster = await attachCluster(values.name ?? 'default')
    await cluster.scaleIn(positionals.map(vmNumber))
    return 0
  },
}

function monitorCommand(name: string, summary: string, act: (vm: RunningVm) => Promise<void>): Command {
  return {
    name,
    summary,
    usage: `${name} N [--name=NAME]`,
    options: '  --name=NAME   cluster name (default: default)',
    async run(args) {
      const { values, positionals } = strictArgs(args, NAME_OPT, [1, 1])
      const cluster = await attachCluster(values.name ?? 'default')
      await act(cluster.vm(vmNumber(positionals[0])))
      return 0
    },
  }
}

const tcpdump: Command = {
  name: 'tcpdump',
  summary: 'Capture on a VM interface: --start begins, --get stops it and brings back a pcap file (needs --tools=yes).',
  usage: 'tcpdump --start N IFACE [filter...] | tcpdump --get N IFACE [file]',
  options: '  --name=NAME   cluster name (default: default)\n  --start       start capturing\n  --get         stop and write the pcap (default file: vm-NNN-IFACE.pcap)',
  async run(args) {
    const { values, positionals } = strictArgs(args, { ...NAME_OPT, start: { type: 'boolean' }, get: { type: 'boolean' } }, [2, 64])
    if (values.start === values.get) throw new CliUsageError('give exactly one of --start and --get')
    const cluster = await attachCluster(values.name ?? 'default')
    const v = cluster.vm(vmNumber(positionals[0]))
    const iface = positionals[1]
    if (values.start) {
      await v.startCapture(iface, positionals.slice(2).join(' '))
      process.stdout.write(`capturing on ${v.name} ${iface}\n`)
    } else {
      if (positionals.length > 3) throw new CliUsageError(`unexpected argument \`${positionals[3]}\``)
      const file = positionals[2] ?? `${v.name}-${iface}.pcap`
      const pcap = await v.stopCapture(iface, file)
      process.stdout.write(`${file} (${pcap.length} bytes)\n`)
    }
    return 0
  },
}

const diagram: Command = {
  name: 'diagram',
  summary: 'The topology picture (SVG) of a running cluster, or of the given options.',
  usage: 'diagram [--name=NAME] [cluster options] [--out=FILE]',
  options: CLUSTER_OPTIONS + '\n  --out=FILE             write the SVG there (default: stdout)',
  async run(args) {
    const { flags, positionals } = parseClusterArgs(args, ['out'])
    if (positionals.length) throw new CliUsageError(`unexpected argument \`${positionals[0]}\``)
    const { options } = resolveSettings(flags, process.env)
    const running = findCluster(xclusterHome(), options.name ?? 'default')
    let plan = running?.state.plan
    if (!plan || Object.keys(flags).some((k) => k !== 'name' && k !== 'out')) {
      const { spec, problems } = checkOptions(options)
      if (problems.length) throw new ClusterConfigError(problems)
      plan = planCluster(spec, allocationOf('00000000', 20))
    }
    const topo = getTopology(String(running?.state.options?.topology ?? options.topology ?? ''))
    const svg = topologySvg(plan, { extra: topo?.diagram?.(plan) })
    if (flags.out) {
      writeFileSync(flags.out, svg)
      process.stdout.write(`${flags.out}\n`)
    } else process.stdout.write(svg)
    return 0
  },
}

const cleanup: Command = {
  name: 'cleanup',
  summary: 'Remove what killed runs left (processes, namespaces, taps, files), by recorded id; list it.',
  usage: 'cleanup',
  async run(args) {
    strictArgs(args, {}, [0, 0])
    const reports = await cleanupDeadClusters(xclusterHome())
    if (!reports.length) process.stdout.write('nothing to clean up\n')
    for (const r of reports) {
      process.stdout.write(`cluster ${r.name} (${r.id}):\n`)
      for (const line of r.removed) process.stdout.write(`  removed ${line}\n`)
    }
    return 0
  },
}

const stateJson: Command = {
  name: 'state',
  summary: 'Print the recorded state of a cluster (pids, namespace, plan) as JSON.',
  usage: 'state [--name=NAME]',
  options: '  --name=NAME   cluster name (default: default)',
  async run(args) {
    const { values } = strictArgs(args, NAME_OPT, [0, 0])
    const s = findCluster(xclusterHome(), values.name ?? 'default')
    if (!s) throw new XclusterError(`No cluster named ${values.name ?? 'default'} is running`)
    writeFileSync(1, JSON.stringify(s.state, null, 2) + '\n')
    return 0
  },
}

export const commands: Record<string, Command> = Object.fromEntries(
  [
    setup, env, start, status, stop, vm, rsh, rcp, scaleout, scalein,
    monitorCommand('stop_vm', 'Pause VM N through its QEMU monitor.', (v) => v.pause()),
    monitorCommand('cont_vm', 'Resume VM N after stop_vm.', (v) => v.resume()),
    monitorCommand('reset_vm', 'Reset VM N through its QEMU monitor (a hard reboot); returns when its shell answers.', (v) => v.reset()),
    tcpdump, diagram, cleanup, stateJson,
  ].map((c) => [c.name, c]),
)
