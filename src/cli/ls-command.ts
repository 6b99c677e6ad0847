// `xc ls`: every cluster of the home, running or dead, kept or detached or
// owned by a running test, with its name, networking, VMs and age; what
// `xc status` shows when no --name is given and no cluster is called default.
import { xclusterHome } from '../host/home.ts'
import { sameProcess } from '../host/proc.ts'
import { clusterAlive, listStates, type StateRecord } from '../host/state-dir.ts'
import { strictArgs, type Command } from './args.ts'

export interface ClusterRow {
  name: string
  id: string
  /** user, bridge, bridge (rootless), and `on ssh hosts` where it runs there. */
  mode: string
  /** VMs whose QEMU runs here (undefined on ssh hosts: not visible from here), and all of its plan. */
  vmsAlive?: number
  vms: number
  ageSec: number
  /** detached (xc start, or kept after a test run: its keeper owns it), or owned by a running process. */
  owner: string
  running: boolean
}

/** The row of one recorded cluster. */
function rowOf(s: StateRecord, now: number): ClusterRow {
  const vms = Object.values(s.vms)
  const remote = Object.keys(s.remoteHosts ?? {}).length > 0
  return {
    name: s.name,
    id: s.id,
    mode: `${s.network}${s.rootless ? ' (rootless)' : ''}${remote ? ' on ssh hosts' : ''}`,
    vmsAlive: remote ? undefined : vms.filter((v) => v.process && sameProcess(v.process.pid, v.process.startTime)).length,
    vms: s.plan?.vms.length ?? vms.length,
    ageSec: Math.max(0, Math.round((now - Date.parse(s.createdAt)) / 1000)),
    owner: s.detached ? 'detached' : `owned by pid ${s.owner.pid}`,
    running: clusterAlive(s),
  }
}

/** Every cluster recorded in `home`, oldest first. */
export function clusterRows(home: string): ClusterRow[] {
  const now = Date.now()
  return listStates(home)
    .map((s) => s.state)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name))
    .map((s) => rowOf(s, now))
}

/** 75 s as `1m 15s`, 2 h 5 min as `2h 5m`. */
export function age(sec: number): string {
  const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`
}

/** The rows as a table, and what to do with a dead one. */
export function formatRows(rows: ClusterRow[], home: string): string {
  if (!rows.length) return `no cluster in ${home} (start one with \`xc start --name=NAME\`)\n`
  const cells = [['NAME', 'ID', 'NETWORK', 'VMS', 'AGE', 'OWNER', 'STATE'], ...rows.map((r) => [
    r.name, r.id, r.mode, `${r.vmsAlive ?? '?'}/${r.vms}`, age(r.ageSec), r.owner, r.running ? 'running' : 'dead',
  ])]
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)))
  const lines = cells.map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]))).join('  '))
  if (rows.some((r) => !r.running)) lines.push('(dead: what a killed run left; `xc cleanup` removes it)')
  return lines.join('\n') + '\n'
}

const ls: Command = {
  name: 'ls',
  summary: 'List every cluster of this home (XCLUSTER_HOME): name, id, networking, VMs up, age, owner, running or dead.',
  usage: 'ls [--json]',
  options: '  --json        machine-readable output',
  async run(args) {
    const { values } = strictArgs(args, { json: { type: 'boolean' } }, [0, 0])
    const home = xclusterHome()
    const rows = clusterRows(home)
    process.stdout.write(values.json ? JSON.stringify(rows, null, 2) + '\n' : formatRows(rows, home))
    return 0
  },
}

export const lsCommands: Command[] = [ls]
