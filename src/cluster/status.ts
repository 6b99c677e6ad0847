// What `xc status` shows of a cluster, from its records: each VM alive or
// dead (on an ssh host, asked there), its pid and uptime, and where its
// telnet and ssh are reached, by the rules of its networking.
import { sameProcess } from '../host/proc.ts'
import { sshNetns } from '../host/ssh-cluster.ts'
import type { StateDir, StateRecord } from '../host/state-dir.ts'
import { clusterAlive } from '../host/state-dir.ts'
import { ipv4Of, SSH_PORT, TELNET_PORT } from '../plan/plan.ts'
import { remoteVmsAlive } from './ssh-hosts.ts'

export interface VmStatus {
  name: string
  alive: boolean
  pid?: number
  uptimeSec: number
  /** The ssh host it runs on, and whether that host answered. */
  host?: string
  reachable?: boolean
  /** Where its telnet and ssh are: `127.0.0.1:port` on the host's loopback, else `<namespace>:<address>:<port>`. */
  telnet: string
  ssh: string
}

export interface ClusterStatus {
  name: string
  running: boolean
  id: string | null
  network: 'user' | 'bridge' | null
  /** Its namespace: a name (ip netns), or, held by its relay (rootless, private user nets), `rootless:<pid>` / `private:<pid>` (nsenter -t <pid>). */
  netns: string | null
  vms: VmStatus[]
}

/** The namespace of `s` as a person enters it, if it has one. */
function namespaceOf(s: StateRecord): string | undefined {
  if (s.netns) return s.netns
  if (s.relay && s.rootless) return `rootless:${s.relay.pid}`
  if (s.relay) return `private:${s.relay.pid}`
  return undefined
}

/** The status of cluster `name` recorded in `state` (none running: `state` undefined). */
export async function clusterStatus(name: string, state: StateDir | undefined): Promise<ClusterStatus> {
  if (!state) return { name, running: false, id: null, network: null, netns: null, vms: [] }
  const s = state.state
  const ns = namespaceOf(s)
  // On ssh hosts a VM's pid is that host's: asked there.
  const remote = s.remoteHosts ? await remoteVmsAlive(s) : new Map<string, boolean | undefined>()
  const first = s.plan?.hosts?.[0]
  const where = (num: number, port: number, hostPort?: number): string => {
    if (s.network === 'user') return s.userNets === 'private' ? `${ns}:127.0.0.1:${hostPort}` : `127.0.0.1:${hostPort}`
    return `${ns ?? (first ? sshNetns(s.id, first) : '?')}:${ipv4Of(0, num)}:${port}`
  }
  const vms = Object.values(s.vms).sort((a, b) => a.num - b.num).map((v): VmStatus => {
    const p = s.plan?.vms.find((x) => x.num === v.num)
    const up = v.host ? remote.get(v.name) === true : !!v.process && sameProcess(v.process.pid, v.process.startTime)
    return {
      name: v.name,
      alive: up,
      pid: v.process?.pid,
      uptimeSec: up && v.startedAt ? Math.round((Date.now() - Date.parse(v.startedAt)) / 1000) : 0,
      ...(v.host ? { host: v.host, reachable: remote.get(v.name) !== undefined } : {}),
      telnet: where(v.num, TELNET_PORT, p?.telnetPort),
      ssh: where(v.num, SSH_PORT, p?.sshPort),
    }
  })
  return { name, running: clusterAlive(s), id: s.id, network: s.network, netns: ns ?? null, vms }
}

