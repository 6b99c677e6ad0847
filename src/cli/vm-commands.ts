// The xc commands on one VM: vm, rsh, rcp, the monitor commands and tcpdump.
import { attachCluster } from '../cluster/attach.ts'
import type { RunningVm } from '../cluster/running-vm.ts'
import { NAME_HELP, NAME_OPT, clusterName, strictArgs, vmNumber, type Command } from './args.ts'
import { XclusterError } from '../errors.ts'
import { CliUsageError } from './cli-error.ts'
import { interactiveShell } from './interactive.ts'

const vm: Command = {
  name: 'vm',
  summary: 'An interactive root shell on VM N over telnet (type exit, or Ctrl-] to leave).',
  usage: 'vm N [--name=NAME]',
  options: NAME_HELP,
  async run(args) {
    const { values, positionals } = strictArgs(args, NAME_OPT, [1, 1])
    const num = vmNumber(positionals[0])
    // Without a terminal there is no one to type: say what does work, rather than print nothing and exit 0.
    if (!process.stdin.isTTY) throw new XclusterError(`xc vm is an interactive shell and needs a terminal (stdin is not one); to run a command: xc rsh ${values.name ? `--name=${values.name} ` : ''}${num} COMMAND...`)
    const cluster = await attachCluster(clusterName(values.name))
    return interactiveShell(cluster.vm(num))
  },
}

const rsh: Command = {
  name: 'rsh',
  summary: "Run a command on VM N, print its output, exit with the command's exit code.",
  usage: 'rsh [--name=NAME] N [--name=NAME] [--] command...',
  options: `${NAME_HELP}
                before or right after N; the command starts at the first other word after N
                (or after \`--\`), so its own options are its own`,
  async run(args) {
    let name: string | undefined
    const rest = [...args]
    /** Takes a --name option off the front of `rest`; false when the front is not one. */
    const takeName = (): boolean => {
      const opt = rest[0]
      if (opt === '--name') {
        rest.shift()
        if (rest[0] === undefined || rest[0].startsWith('--')) throw new CliUsageError('option `--name` needs a value')
        name = rest.shift()
      } else if (opt?.startsWith('--name=')) name = rest.shift()!.slice('--name='.length)
      else return false
      return true
    }
    while (rest[0]?.startsWith('--')) {
      if (!takeName()) throw new CliUsageError(`unknown option \`${rest[0]}\` (rsh takes only --name, before or right after N; the command is what follows)`)
    }
    const num = vmNumber(rest.shift())
    while (takeName());
    if (rest[0] === '--') rest.shift()
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

const link: Command = {
  name: 'link',
  summary: "Take VM N's link on net NET down or up (QEMU's set_link: the guest sees its carrier go and come back), as vm.link(net).down() and up().",
  usage: 'link N NET down|up [--name=NAME]',
  options: NAME_HELP,
  async run(args) {
    const { values, positionals } = strictArgs(args, NAME_OPT, [3, 3])
    const [n, netText, state] = positionals
    if (!/^\d{1,3}$/.test(netText)) throw new CliUsageError(`expected a net number, got \`${netText}\``)
    if (state !== 'down' && state !== 'up') throw new CliUsageError(`expected down or up, got \`${state}\``)
    const cluster = await attachCluster(clusterName(values.name))
    const v = cluster.vm(vmNumber(n))
    const l = v.link(Number(netText))
    await (state === 'down' ? l.down() : l.up())
    process.stdout.write(`${v.name} ${l.ifname} (net ${l.net}) ${state}\n`)
    if (state === 'down' && l.net === 0) process.stderr.write(`xc link: net 0 is the one the harness reaches ${v.name} on: xc rsh and the tests wait until \`xc link ${v.num} 0 up\`\n`)
    return 0
  },
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
  link, tcpdump,
]
