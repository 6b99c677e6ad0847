// The package layers of a cluster's VMs: one per distinct package set
// (the common packages, the role's and the VM's own), resolved and built
// before any VM starts, so that a bad name is a ClusterConfigError and
// nothing runs.
import { ClusterConfigError, UnsafePackageError } from '../errors.ts'
import { stderrLogger, type Logger } from '../log.ts'
import { packageLayer, type PackageLayer } from '../packages/layer.ts'
import { packagesOf, vmName, type ClusterSpec } from '../plan/spec.ts'

/**
 * The layer of each VM of `vms` that has packages. Every set's problems
 * are collected (each names its VMs) and thrown together.
 */
export async function packageLayers(spec: ClusterSpec, vms: number[], logger: Logger = spec.log ?? stderrLogger()): Promise<Map<number, PackageLayer>> {
  // Progress of a layer build: a first build takes tens of seconds.
  const log = (line: string): void => logger.info(line)
  const sets = new Map<string, number[]>()
  for (const vm of vms) {
    const names = packagesOf(spec, vm)
    if (!names.length) continue
    const k = names.join(' ')
    sets.set(k, [...(sets.get(k) ?? []), vm])
  }
  const out = new Map<number, PackageLayer>()
  const problems: string[] = []
  let unsafe = false
  for (const [k, members] of sets) {
    try {
      const layer = await packageLayer(spec.home, k.split(' '), { log })
      for (const vm of members) out.set(vm, layer)
    } catch (e) {
      if (!(e instanceof ClusterConfigError)) throw e
      unsafe ||= e instanceof UnsafePackageError
      const who = members.length > 3 ? `${members.length} VMs` : members.map(vmName).join(', ')
      for (const p of e.problems) if (!problems.includes(`${p} (for ${who})`)) problems.push(`${p} (for ${who})`)
    }
  }
  // A refused package keeps its class: the caller can tell it from a name Debian does not have.
  if (problems.length) throw unsafe ? new UnsafePackageError(problems) : new ClusterConfigError(problems)
  return out
}
