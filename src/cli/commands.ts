// The xc commands by name, in the order `xc --help` lists them.
import type { Command } from './args.ts'
import { clusterCommands } from './cluster-commands.ts'
import { lsCommands } from './ls-command.ts'
import { nsCommands } from './ns-commands.ts'
import { kernelCommands } from './kernel-commands.ts'
import { packageCommands } from './package-commands.ts'
import { snapshotCommands } from './snapshot-commands.ts'
import { vmCommands } from './vm-commands.ts'
import { waitCommands } from './wait-commands.ts'

export { usageOf, type Command } from './args.ts'

const ORDER = ['setup', 'env', 'start', 'ls', 'status', 'stop', 'vm', 'rsh', 'wait', 'rcp', 'scaleout', 'scalein', 'stop_vm', 'cont_vm', 'reset_vm', 'link', 'tcpdump', 'diagram', 'packages', 'kernel', 'snapshot', 'nsadd', 'nsdel', 'cleanup', 'state']

export const commands: Record<string, Command> = Object.fromEntries(
  [...clusterCommands, ...lsCommands, ...vmCommands, ...waitCommands, ...packageCommands, ...kernelCommands, ...snapshotCommands, ...nsCommands].sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name)).map((c) => [c.name, c]),
)
