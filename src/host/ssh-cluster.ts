// A cluster's ssh hosts, as every part of the harness that works on them
// sees them: the open connections and what was read on each before the
// start, and the names of what the cluster has on a host (its namespace, its
// directory), which its network, its QEMUs and its cleanup all use.
import type { SshHost } from './ssh-host.ts'

/** What the harness read on an ssh host before the start. */
export interface HostFacts {
  cores: number
  memMiB: number
  /** The address the other hosts reach it at (VXLAN). */
  underlay: string
  kvm: boolean
}

/** The connected ssh hosts of a cluster, by name, and what was read on each. */
export interface SshHosts {
  hosts: Map<string, SshHost>
  facts: Map<string, HostFacts>
}

/** The network namespace of cluster `id` on its ssh host `host`. */
export function sshNetns(id: string, host: string): string {
  return `xc-${id}-${host}`
}

/** The directory of cluster `id` on its ssh host `host`, under that host's `dir`. */
export function sshRunDir(dir: string, id: string, host: string): string {
  return `${dir}/run/${id}-${host}`
}
