// The shapes of a cluster plan (built by ./plan.ts). Pure data.
import type { NetworkMode, Role } from './model.ts'

export interface NicPlan {
  /** eth0, eth1, ... in the order of the VM's net list. */
  ifname: string
  index: number
  net: number
  mac: string
  ipv4: string
  ipv6: string
  /** QEMU id of the netdev for this NIC, unique in the VM. */
  id: string
}

export interface VmPlan {
  num: number
  name: string
  role: Role
  mem: number
  smp: number
  nics: NicPlan[]
  /** Host ports (127.0.0.1) forwarded to the guest's telnet and ssh in user mode. */
  telnetPort: number
  sshPort: number
  append: string
  /** The (simulated) host the VM runs on, when the cluster spans hosts. */
  host?: string
}

/** Host resources reserved for one cluster (see ../host/port-block.ts). */
export interface Allocation {
  clusterId: string
  /** VM v's telnet forward is telnetBase + v; ssh is sshBase + v. */
  telnetBase: number
  sshBase: number
  /** Net k (k >= 1) in user mode is multicast group `mcastGroup(k)` on port mcastPortBase + k. */
  mcastPortBase: number
  mcastGroupPrefix: string
}

export interface ClusterPlan {
  id: string
  name: string
  network: NetworkMode
  prefix: string
  vms: VmPlan[]
  /** Every net some VM is on, sorted. */
  nets: number[]
  allocation: Allocation
  /** Host names in order, when the cluster spans hosts (bridge mode, nets joined by VXLAN). */
  hosts?: string[]
  /** Point-to-point links (option `links`): pair i is net 200 + i. */
  links?: Array<[number, number]>
}
