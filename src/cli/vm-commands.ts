// The xc commands on one VM: vm, rsh, rcp, the monitor commands and tcpdump.
import { attachCluster } from '../cluster/attach.ts'
import type { RunningVm } from '../cluster/running-vm.ts'
import { NAME_HELP, NAME_OPT, clusterName, strictArgs, vmNumber, type Command } from './args.ts'
import { CliUsageError } from './cli-error.ts'
import { interactiveShell } from './interactive.ts'

const vm: Command = {
  name: 'vm',
  summary: 'An interactive root shell on VM N over telnet (type exit, or Ctrl-] to leave).',
  usage: 'vm N [--name=NAME]',
  options: NAME_HELP,
  async run(args) {
    const { values, positionals } = strictArgs(args, NAME_OPT, [1, 1])
    const cluster = await attachCluster(clusterName(values.name))
    return interactiveShell(cluster.vm(vmNumber(positionals[0])))
  },
}

const rsh: Command = {
  name: 'rsh',
  summary: "Run a command on VM N, print its output, exit with the command's exit code.",
  usage: 'rsh [--name=NAME] N command...',
  options: `${NAME_HELP}\n                before N: everything after N is the command`,
  async run(args) {
    // Options end at N, so that the command's own options are its own.
    let name: string | undefined
    const rest = [...args]
    while (rest[0]?.startsWith('--')) {
      const opt = rest.shift()!
      if (opt === '--name') {
        if (rest[0] === undefined || rest[0].startsWith('--')) throw new CliUsageError('option `--name` needs a value')
        name = rest.shift()
      } else if (opt.startsWith('--name=')) name = opt.slice('--name='.length)
      else throw new CliUsageError(`unknown option \`${opt}\` (rsh takes only --name, before N; everything after N is the command)`)
    }
    const num = vmNumber(rest.shift())
    if (!rest.length) throw new CliUsageError('expected a command')
    const cluster = await attachCluster(clusterName(name))
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
  options: `${NAME_HELP}\n  --to          copy from the host to the VM`,
  async run(args) {
    const { values, positionals } = strictArgs(args, { ...NAME_OPT, to: { type: 'boolean' } }, [3, 3])
    const cluster = await attachCluster(clusterName(values.name))
    const v = cluster.vm(vmNumber(positionals[0]))
    if (values.to) await v.putFile(positionals[1], positionals[2])
    else await v.getFile(positionals[1], positionals[2])
    return 0
  },
}

function monitorCommand(name: string, summary: string, act: (vm: RunningVm) => Promise<void>): Command {
  return {
    name,
    summary,
    usage: `${name} N [--name=NAME]`,
    options: NAME_HELP,
    async run(args) {
      const { values, positionals } = strictArgs(args, NAME_OPT, [1, 1])
      const cluster = await attachCluster(clusterName(values.name))
      await act(cluster.vm(vmNumber(positionals[0])))
      return 0
    },
  }
}

const tcpdump: Command = {
  name: 'tcpdump',
  summary: 'Capture on a VM interface: --start begins, --get stops it and brings back a pcap file (needs --tools=yes).',
  usage: 'tcpdump --start N IFACE [filter...] | tcpdump --get N IFACE [file]',
  options: `${NAME_HELP}\n  --start       start capturing\n  --get         stop and write the pcap (default file: vm-NNN-IFACE.pcap)`,
  async run(args) {
    const { values, positionals } = strictArgs(args, { ...NAME_OPT, start: { type: 'boolean' }, get: { type: 'boolean' } }, [2, 64])
    if (values.start === values.get) throw new CliUsageError('give exactly one of --start and --get')
    const cluster = await attachCluster(clusterName(values.name))
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

export const vmCommands: Command[] = [
  vm, rsh, rcp,
  monitorCommand('stop_vm', 'Pause VM N through its QEMU monitor.', (v) => v.pause()),
  monitorCommand('cont_vm', 'Resume VM N after stop_vm.', (v) => v.resume()),
  monitorCommand('reset_vm', 'Reset VM N through its QEMU monitor (a hard reboot); returns when its shell answers.', (v) => v.reset()),
  tcpdump,
]
