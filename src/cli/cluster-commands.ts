// The xc commands on whole clusters: setup, env, start, status, stop,
// scaleout, scalein, diagram, cleanup, state.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { attachCluster, findCluster, lookupCluster } from '../cluster/attach.ts'
import { clusterStatus } from '../cluster/status.ts'
import { checkOptions } from '../cluster/options.ts'
import { setupImages } from '../cluster/kernel.ts'
import { startCluster } from '../cluster/start-cluster.ts'
import type { CustomStart } from '../cluster/start-context.ts'
import { topologySvg } from '../diagram/svg.ts'
import { ClusterConfigError, XclusterError } from '../errors.ts'
import { cleanupDeadClusters, removeClusterResources } from '../host/cleanup.ts'
import { removeDamagedCluster } from '../host/damaged.ts'
import { namesOf } from '../host/names.ts'
import { xclusterHome } from '../host/home.ts'
import { allocationOf } from '../host/port-block.ts'
import { scanStates } from '../host/state-dir.ts'
import { buildImage } from '../image/build-image.ts'
import { planCluster } from '../plan/plan.ts'
import { getTopology } from '../topology/index.ts'
import { CLUSTER_OPTIONS, NAME_HELP, NAME_OPT, clusterName, parseClusterArgs, strictArgs, vmNumber, type Command } from './args.ts'
import { CliUsageError } from './cli-error.ts'
import { clusterRows, formatRows } from './ls-command.ts'
import { progressPrinter } from './progress.ts'
import { dropEnvForAbsentVms, resolveSettings } from './settings.ts'

const setup: Command = {
  name: 'setup',
  summary: "Check and install the Debian packages the harness needs, build the harness's kernel (minutes, once) and the VM images (its and Debian's kernel's).",
  usage: 'setup [--image-only]',
  options: '  --image-only   only build the kernel and the VM images (the packages are in place)',
  async run(args) {
    const { values } = strictArgs(args, { 'image-only': { type: 'boolean' } }, [0, 0])
    if (!values['image-only']) {
      // The package check only: npm is not run here (in a clone, `npm run setup` also runs npm ci and the build).
      const script = fileURLToPath(new URL('../../scripts/system-packages.sh', import.meta.url))
      const r = await execa('bash', [script], { stdio: 'inherit', reject: false })
      if (r.exitCode !== 0) return r.exitCode ?? 1
    }
    await setupImages(xclusterHome(), (l) => process.stdout.write(`setup: ${l}\n`))
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
    dropEnvForAbsentVms(options, settings, checkOptions(options).spec.vms, (l) => process.stderr.write(`xc env: ${l}\n`))
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

/**
 * xc start, and `xc <fn>` for a start function of XCLUSTER_HOOK
 * (hook-commands.ts): the cluster stays up after this command returns, its
 * processes parented by its keeper. A custom start runs here, in this process.
 */
export async function startDetached(args: string[], custom?: { start: CustomStart; label: string }): Promise<number> {
  const { flags, positionals } = parseClusterArgs(args)
  const { options, settings } = resolveSettings(flags, process.env)
  dropEnvForAbsentVms(options, settings, checkOptions(options).spec.vms, (l) => process.stderr.write(`xc start: ${l}\n`))
  const name = options.name ?? 'default'
  // A name taken already is a ClusterNameTakenError from the start itself, at once (taken atomically there, not checked here).
  if (positionals.length) options.overlays = positionals
  if (custom) {
    options.start = (ctx) => {
      ctx.onStopRefused =
        `cluster ${name} is started by xc, which exits once it is up, so \`xc stop\` runs in another process and cannot call this function; ` +
        "start long-lived programs with ctx.spawn() (stop ends them) and make host resources inside the cluster's namespace or state directory (removed with it)"
      return custom.start(ctx)
    }
  }
  const progress = progressPrinter(process.stderr)
  options.onProgress = progress.event
  const cluster = await startCluster(options, { detached: true }).finally(() => progress.done())
  for (const vm of cluster.vms) vm.closeChannel()
  process.stdout.write(`cluster ${cluster.name} (${cluster.id}) is up${custom ? ` (started by ${custom.label})` : ''}: ${cluster.vms.map((v) => v.name).join(' ')}\n`)
  return 0
}

const start: Command = {
  name: 'start',
  summary: 'Start a cluster that keeps running after this command returns.',
  usage: 'start [cluster options] [overlay...]',
  options: CLUSTER_OPTIONS,
  run: (args) => startDetached(args),
}

const status: Command = {
  name: 'status',
  summary: 'Every VM of the cluster, alive or dead, its ports or namespace, and uptime.',
  usage: 'status [--name=NAME] [--json]',
  options: `${NAME_HELP}\n  --json        machine-readable output`,
  async run(args) {
    const { values } = strictArgs(args, { ...NAME_OPT, json: { type: 'boolean' } }, [0, 0])
    const name = clusterName(values.name)
    const home = xclusterHome()
    const found = lookupCluster(home, name)
    if (found?.kind === 'damaged') {
      // Its record cannot be read: what it is and whether it runs are unknown; it is removed as a dead cluster.
      const { id, reason } = found.damaged
      if (values.json) process.stdout.write(JSON.stringify({ name, running: false, damaged: reason, id, network: null, netns: null, vms: [] }, null, 2) + '\n')
      else process.stdout.write(`cluster ${name} (${id}): damaged: ${reason}; \`xc stop --name=${name}\` or \`xc cleanup\` removes what it left\n`)
      return 0
    }
    const state = found && !found.state.state.stoppedAt ? found.state : undefined
    const out = await clusterStatus(name, state)
    const { running: alive, vms } = out
    // The home's other clusters: listed when no --name was given and none is called default (xc ls), named otherwise.
    const others = clusterRows(xclusterHome()).filter((r) => r.id !== state?.id)
    const running = others.filter((r) => r.running).map((r) => r.name).sort()
    if (values.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n')
    else if (!state && values.name === undefined) process.stdout.write(`no cluster named default; the clusters of this home (xc ls):\n${formatRows(others, xclusterHome())}`)
    else if (!state) {
      process.stdout.write(`cluster ${name}: none running${running.length ? `; running in this home: ${running.join(', ')} (xc ls)` : ''}\n`)
      const unknown = scanStates(home).damaged.filter((d) => !namesOf(home, d.id).length)
      if (unknown.length) process.stdout.write(`damaged records in ${home} (whose name is unknown): ${unknown.map((d) => d.id).join(' ')}; \`xc cleanup\` removes what they left\n`)
    }
    else {
      process.stdout.write(`cluster ${name} (${out.id}), ${out.network} networking${out.netns ? `, namespace ${out.netns}${state.state.relay && !state.state.netns ? ' (the pid of the relay holding it: nsenter -t PID)' : ''}` : ''}: ${alive ? 'running' : 'dead'}\n`)
      for (const v of vms) {
        const where = 'host' in v ? `  host ${v.host}${v.reachable ? '' : ' (not answering)'}` : ''
        process.stdout.write(`  ${v.name}  ${v.alive ? 'alive' : 'dead '}  pid ${v.pid ?? '-'}${where}  up ${v.uptimeSec}s  telnet ${v.telnet}\n`)
      }
      if (running.length) process.stdout.write(`also running in this home: ${running.join(', ')} (xc ls)\n`)
    }
    return 0
  },
}

const stop: Command = {
  name: 'stop',
  summary: 'Stop the cluster and remove its namespace, taps and files.',
  usage: 'stop [--name=NAME]',
  options: NAME_HELP,
  async run(args) {
    const { values } = strictArgs(args, NAME_OPT, [0, 0])
    const name = clusterName(values.name)
    const home = xclusterHome()
    const found = lookupCluster(home, name)
    // Dead (its keeper and VMs gone) or damaged: what it left is removed, by its records or by what names its id.
    if (found?.kind === 'starting') throw new XclusterError(`cluster ${name} (${found.state.id}) is starting (pid ${found.state.state.owner.pid}): stop it once it is up, or end that start`)
    if (found?.kind === 'dead' || found?.kind === 'damaged') {
      const [id, removed, was] =
        found.kind === 'dead'
          ? [found.state.id, await removeClusterResources(home, found.state), 'was not running any more']
          : [found.damaged.id, await removeDamagedCluster(home, found.damaged), `was damaged: ${found.damaged.reason}`]
      process.stdout.write(`cluster ${name} (${id}) ${was}; removed what it left:\n`)
      for (const line of removed) process.stdout.write(`  removed ${line}\n`)
      return 0
    }
    const cluster = await attachCluster(name)
    await cluster.stop()
    process.stdout.write(`cluster ${cluster.name} (${cluster.id}) stopped\n`)
    return 0
  },
}

const scaleout: Command = {
  name: 'scaleout',
  summary: 'Add VMs to the running cluster, with the same rules as start (role by number, nets, memory).',
  usage: 'scaleout N... [--name=NAME] [--netsNNN=0,1 ...]',
  options: `${NAME_HELP}\n  --netsNNN, --memNNN, --smpNNN as for start (and __netsNNN etc.)`,
  async run(args) {
    const { flags, positionals } = parseClusterArgs(args)
    if (!positionals.length) throw new CliUsageError('expected at least one VM number')
    const nums = positionals.map(vmNumber)
    const { options, settings } = resolveSettings(flags, process.env)
    dropEnvForAbsentVms(options, settings, nums, () => {})
    const cluster = await attachCluster(clusterName(flags.name))
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
  options: NAME_HELP,
  async run(args) {
    const { values, positionals } = strictArgs(args, NAME_OPT, [1, 240])
    const cluster = await attachCluster(clusterName(values.name))
    await cluster.scaleIn(positionals.map(vmNumber))
    return 0
  },
}

const diagram: Command = {
  name: 'diagram',
  summary: 'The topology picture (SVG) of a running cluster, or of the given options.',
  usage: 'diagram [--name=NAME] [cluster options] [--out=FILE]',
  options: CLUSTER_OPTIONS + '\n  --out=FILE             write the SVG there (default: stdout); --out FILE works too',
  async run(args) {
    const { flags, positionals } = parseClusterArgs(args, [], ['out'])
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
  summary: 'Remove what killed runs left (processes, namespaces, taps, files), by recorded id; list it. Running clusters are not touched.',
  usage: 'cleanup [--name=NAME] [--forget]',
  options: '  --name=NAME   only the dead clusters of that name (default: every dead cluster); --name NAME works too\n  --forget      let go of what ssh hosts that do not answer have recorded (it is named, to remove there by hand)',
  async run(args) {
    const { values } = strictArgs(args, { ...NAME_OPT, forget: { type: 'boolean' } }, [0, 0])
    const home = xclusterHome()
    const name = values.name === undefined ? undefined : clusterName(values.name)
    const reports = await cleanupDeadClusters(home, name, { forget: values.forget === true })
    const running = name === undefined ? undefined : findCluster(home, name)
    if (!reports.length) process.stdout.write(`nothing to clean up${name === undefined ? '' : ` of cluster ${name}`}${running ? ` (it is running, id ${running.id}: stop it with \`xc stop --name=${name}\`)` : ''}\n`)
    let failed = 0
    for (const r of reports) {
      process.stdout.write(`cluster ${r.name} (${r.id})${r.damaged ? `, damaged: ${r.damaged}; removed as a dead cluster whose shape is unknown` : ''}:\n`)
      for (const line of r.removed) process.stdout.write(`  removed ${line}\n`)
      if (r.error) {
        failed++
        process.stderr.write(`xc cleanup: cluster ${r.name} (${r.id}): ${r.error}\n`)
      }
    }
    return failed ? 1 : 0
  },
}

const stateJson: Command = {
  name: 'state',
  summary: 'Print the recorded state of a cluster (pids, namespace, plan) as JSON.',
  usage: 'state [--name=NAME]',
  options: NAME_HELP,
  async run(args) {
    const { values } = strictArgs(args, NAME_OPT, [0, 0])
    const name = clusterName(values.name)
    const s = findCluster(xclusterHome(), name)
    if (!s) throw new XclusterError(`No cluster named ${name} is running (start one with \`xc start --name=${name}\`)`)
    writeFileSync(1, JSON.stringify(s.state, null, 2) + '\n')
    return 0
  },
}

export const clusterCommands: Command[] = [setup, env, start, status, stop, scaleout, scalein, diagram, cleanup, stateJson]
