// Which ssh host each VM runs on: the VMs a host lists stay there; each other
// VM, in number order, goes to the host with the fewest VMs per core among
// those with memory left for it (ties to the host named first). Pure.
import { vmName } from './spec.ts'

export interface HostCapacity {
  name: string
  /** Cores (nproc) and available memory (MemAvailable, MiB), as read over ssh. */
  cores: number
  memMiB: number
  /** The VMs the options put there. */
  fixed: number[]
}

/** Memory a host keeps for itself and QEMU's own use, per VM (MiB). */
export const QEMU_OVERHEAD_MIB = 64

export function placeVms(vms: Array<{ num: number; mem: number }>, hosts: HostCapacity[]): { placement: Record<string, number[]>; problems: string[] } {
  const problems: string[] = []
  const memOf = new Map(vms.map((v) => [v.num, v.mem + QEMU_OVERHEAD_MIB]))
  const placement: Record<string, number[]> = {}
  const used = new Map<string, number>()
  for (const h of hosts) {
    placement[h.name] = [...h.fixed]
    used.set(h.name, h.fixed.reduce((a, n) => a + (memOf.get(n) ?? 0), 0))
    if (used.get(h.name)! > h.memMiB) problems.push(`host ${h.name} has ${h.memMiB} MiB of memory available; the VMs given to it need ${used.get(h.name)} MiB (with ${QEMU_OVERHEAD_MIB} MiB per QEMU)`)
  }
  const fixed = new Set(hosts.flatMap((h) => h.fixed))
  for (const v of vms.filter((x) => !fixed.has(x.num)).sort((a, b) => a.num - b.num)) {
    const need = memOf.get(v.num)!
    const fits = hosts.filter((h) => h.memMiB - used.get(h.name)! >= need)
    if (!fits.length) {
      problems.push(`no host has ${need} MiB of memory left for ${vmName(v.num)}: ${hosts.map((h) => `${h.name} ${h.memMiB - used.get(h.name)!} MiB`).join(', ')}`)
      continue
    }
    const load = (h: HostCapacity): number => (placement[h.name].length + 1) / Math.max(1, h.cores)
    const best = fits.reduce((a, b) => (load(b) < load(a) ? b : a))
    placement[best.name].push(v.num)
    used.set(best.name, used.get(best.name)! + need)
  }
  for (const list of Object.values(placement)) list.sort((a, b) => a - b)
  return { placement, problems }
}
