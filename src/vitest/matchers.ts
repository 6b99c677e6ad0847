// Custom matchers: a VM reaches an address; a cluster has a whole
// reachability matrix (what must and what must not be reachable).
import { expect } from 'vitest'
import type { RunningCluster } from '../cluster/running-cluster.ts'
import type { RunningVm } from '../cluster/running-vm.ts'

export interface ReachabilitySpec {
  /** VM numbers or names that ping. */
  from: Array<number | string>
  /** Addresses pinged (IPv4 or IPv6). */
  to: string[]
  /** expect[i][j]: must from[i] reach to[j]? */
  expect: boolean[][]
  /** Seconds per ping (default 2). */
  wait?: number
}

export interface ReachabilityResult {
  actual: boolean[][]
  pass: boolean
  table: string
}

/** Ping every (from, to) pair and compare with the expected matrix. */
export async function checkReachability(cluster: RunningCluster, spec: ReachabilitySpec): Promise<ReachabilityResult> {
  const vms = spec.from.map((f) => cluster.vm(f))
  // Each VM pings its row in order; VMs work in parallel.
  const actual = await Promise.all(
    vms.map(async (vm) => {
      const row: boolean[] = []
      for (const addr of spec.to) row.push(await vm.ping(addr, spec.wait ?? 2))
      return row
    }),
  )
  let pass = true
  const width = Math.max(...spec.to.map((t) => t.length), 5)
  const lines = [['', ...spec.to].map((c, i) => (i === 0 ? c.padEnd(8) : c.padEnd(width))).join(' ')]
  vms.forEach((vm, i) => {
    const cells = spec.to.map((_, j) => {
      const want = spec.expect[i]?.[j]
      const got = actual[i][j]
      if (want !== got) pass = false
      const mark = got ? 'yes' : 'no'
      return (want === got ? mark : `${mark} (want ${want ? 'yes' : 'no'}) !!`).padEnd(width)
    })
    lines.push([vm.name.padEnd(8), ...cells].join(' '))
  })
  return { actual, pass, table: lines.join('\n') }
}

interface XclusterMatchers<R = unknown> {
  /** The VM answers one ping to `address` (IPv4 or IPv6). */
  toReach(address: string, waitSec?: number): Promise<R>
  /** Every pair of the matrix behaves as expected; prints the whole matrix when not. */
  toHaveReachability(spec: ReachabilitySpec): Promise<R>
}

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Matchers<T = any> extends XclusterMatchers<T> {}
}

let installed = false

/** Register the matchers with Vitest's expect (done by importing xcluster/vitest). */
export function installMatchers(): void {
  if (installed) return
  installed = true
  expect.extend({
    async toReach(vm: RunningVm, address: string, waitSec = 2) {
      const pass = await vm.ping(address, waitSec)
      return {
        pass,
        message: () => `expected ${vm.name} ${pass ? 'not ' : ''}to reach ${address}`,
      }
    },
    async toHaveReachability(cluster: RunningCluster, spec: ReachabilitySpec) {
      const r = await checkReachability(cluster, spec)
      return {
        pass: r.pass,
        message: () => `reachability ${r.pass ? 'matched, expected it not to' : 'differs (marked !!)'}:\n${r.table}`,
      }
    },
  })
}
