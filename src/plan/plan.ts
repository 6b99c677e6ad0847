// The cluster plan: pure data derived from a spec and the host resources
// allocated for the cluster. Every VM's role, NICs, MACs, addresses, ports.
import { netsOf, roleOf, vmName, type ClusterSpec } from './spec.ts'
import type { Allocation, ClusterPlan, VmPlan } from './types.ts'

export { vmName }
export type { Allocation, ClusterPlan, NicPlan, VmPlan } from './types.ts'

export const HOST_VM_NUMBER = 250
/** The guest's telnet (the control channel) and ssh ports. */
export const TELNET_PORT = 23
export const SSH_PORT = 22


const hex2 = (n: number): string => n.toString(16).padStart(2, '0')

/** MAC of VM `vm` on net `net`: 00:00:00:01:<net>:<vm>. */
export function macOf(vm: number, net: number): string {
  return `00:00:00:01:${hex2(net)}:${hex2(vm)}`
}

/** 192.168.<net>.<vm> */
export function ipv4Of(net: number, vm: number): string {
  return `192.168.${net}.${vm}`
}

/** <prefix>:192.168.<net>.<vm>, e.g. 1000::1:192.168.1.2 */
export function ipv6Of(net: number, vm: number, prefix = '1000::1'): string {
  return `${prefix}:${ipv4Of(net, vm)}`
}

/** The multicast group of net k in user mode. */
export function mcastGroupOf(alloc: Allocation, net: number): string {
  return `${alloc.mcastGroupPrefix}.${net}`
}

/** The host VM `vm` runs on: the one that lists it, else the first. */
export function hostOf(hosts: Record<string, number[]>, vm: number): string {
  return Object.entries(hosts).find(([, vms]) => vms.includes(vm))?.[0] ?? Object.keys(hosts)[0]
}

/** Pure: the whole cluster as data. */
export function planCluster(spec: ClusterSpec, alloc: Allocation): ClusterPlan {
  const vms = spec.vms.map((num): VmPlan => {
    const nets = netsOf(spec, num)
    return {
      num,
      name: vmName(num),
      role: roleOf(num),
      mem: spec.memVm[num] ?? spec.mem,
      smp: spec.smpVm[num] ?? spec.smp,
      nics: nets.map((net, index) => ({
        ifname: `eth${index}`,
        index,
        net,
        mac: macOf(num, net),
        ipv4: ipv4Of(net, num),
        ipv6: ipv6Of(net, num, spec.prefix),
        id: `n${net}`,
      })),
      telnetPort: alloc.telnetBase + num,
      sshPort: alloc.sshBase + num,
      append: [spec.append, spec.appendVm[num] ?? ''].filter(Boolean).join(' '),
      ...(spec.hosts ? { host: hostOf(spec.hosts, num) } : {}),
    }
  })
  const nets = [...new Set(vms.flatMap((v) => v.nics.map((n) => n.net)))].sort((a, b) => a - b)
  return {
    ...(spec.hosts ? { hosts: Object.keys(spec.hosts) } : {}),
    id: alloc.clusterId,
    name: spec.name,
    network: spec.network,
    prefix: spec.prefix,
    vms,
    nets,
    allocation: alloc,
    ...(spec.links.length ? { links: spec.links } : {}),
  }
}

/** The /etc/hosts of a cluster: every VM on net 0 by name, and on each other net as name-netK. */
export function hostsFile(plan: Pick<ClusterPlan, 'vms' | 'prefix'>): string {
  const lines = [
    '127.0.0.1 localhost',
    '::1 localhost',
    `${ipv4Of(0, HOST_VM_NUMBER)} host`,
    `${ipv6Of(0, HOST_VM_NUMBER, plan.prefix)} host`,
  ]
  for (const vm of plan.vms) {
    for (const nic of vm.nics) {
      const name = nic.net === 0 ? vm.name : `${vm.name}-net${nic.net}`
      lines.push(`${nic.ipv4} ${name}`, `${nic.ipv6} ${name}`)
    }
  }
  return lines.join('\n') + '\n'
}
