// Long-lived host programs of a cluster's own (a switch such as Open
// vSwitch's ovsdb-server and ovs-vswitchd, started by a net-setup hook or a
// custom start): recorded in the state directory before they start, started
// through the cluster's spawner (so they die with a test process, or live
// with a detached cluster's keeper), and ended by stop and cleanup by their
// recorded pid, like QEMU and the relay.
import { readFileSync } from 'node:fs'
import { HostCommandError } from '../errors.ts'
import { sameProcess } from './proc.ts'
import type { Spawner } from './spawner.ts'
import type { DaemonRecord, StateDir } from './state-dir.ts'

/** A daemon's name: its log is `<state dir>/<name>.log`. */
export const DAEMON_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

/**
 * Start `argv` (already wrapped into the cluster's namespace) as the daemon
 * `name` of the cluster in `state`. It must stay in the foreground: one that
 * forks itself away (OVS's --detach) escapes its parent and with it the
 * kernel's kill when that parent dies; its recorded pid still lets stop and
 * cleanup end the process that was started, not its fork.
 */
export async function startDaemon(state: StateDir, spawner: Spawner, name: string, argv: string[]): Promise<DaemonRecord> {
  if (!DAEMON_NAME.test(name)) {
    throw new HostCommandError(`Expected a daemon name of letters, digits, '_', '.' and '-' (at most 64), got \`${name}\``, { argv })
  }
  if (!argv.length) throw new HostCommandError(`daemon ${name}: no program given`, { argv })
  const log = state.path(`${name}.log`)
  // Recorded before it starts: a kill between the spawn and the pid's record
  // leaves a child that the kernel ends with its parent (PR_SET_PDEATHSIG: this
  // process, or the keeper, which cleanup ends).
  const index = state.state.daemons?.length ?? 0
  state.update((r) => (r.daemons = [...(r.daemons ?? []), { name, argv, log }]))
  const { record } = await spawner.spawn(argv, log)
  state.update((r) => Object.assign(r.daemons![index], record))
  if (!sameProcess(record.pid, record.startTime)) {
    throw new HostCommandError(`daemon ${name} (${argv.join(' ')}) ended at once: ${logTail(log) || 'no output'}`, { argv })
  }
  return state.state.daemons![index]
}

/** The last lines of a daemon's log, on one line ('' when it has none). */
function logTail(log: string): string {
  try {
    return readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ')
  } catch {
    return ''
  }
}
