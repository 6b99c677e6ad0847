// Clusters side by side: two user-mode and two bridge-mode clusters with the
// same VM numbers run at once. Each VM also carries a cluster-specific
// address on every net; a VM must reach its own cluster's (positive control)
// and none of another's, on any net.
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startCluster, type RunningCluster } from '../src/index.ts'
import { STD_ADDRESSES } from '../fixtures/index.ts'

const MODES = ['user', 'user', 'bridge', 'bridge'] as const
const NETS = [0, 1]
let clusters: RunningCluster[] = []

/** The address that VM `vm` of cluster number `c` has on net `net`: 192.168.<net>.<100 + 10c + vm>. */
const tagged = (c: number, net: number, vm: number): string => `192.168.${net}.${100 + 10 * c + vm}`

beforeAll(async () => {
  const started = await Promise.allSettled(
    MODES.map((network, c) => startCluster({ name: `iso${c}`, network, nvm: 2, nrouters: 0, overlays: [STD_ADDRESSES] })),
  )
  clusters = started.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<RunningCluster>).value)
  const failed = started.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
  if (failed) throw failed.reason
  for (const [c, cluster] of clusters.entries()) {
    for (const vm of cluster.vms) {
      for (const net of NETS) await vm.run(`ip addr add ${tagged(c, net, vm.num)}/24 dev eth${net}`)
    }
  }
}, 600_000)

afterAll(async () => {
  await Promise.allSettled(clusters.map((c) => c.stop()))
})

test('the clusters hold different ports, multicast groups and namespaces', () => {
  const blocks = clusters.map((c) => c.plan.allocation.telnetBase)
  expect(new Set(blocks).size).toBe(4)
  expect(new Set(clusters.map((c) => c.plan.allocation.mcastGroupPrefix)).size).toBe(4)
  const ns = clusters.filter((c) => c.netns).map((c) => c.netns)
  expect(ns).toHaveLength(2)
  expect(new Set(ns).size).toBe(2)
})

test('on every net, vm-001 reaches vm-002 of its own cluster and no VM of another', async () => {
  const lines: string[] = []
  const failures: string[] = []
  await Promise.all(
    clusters.map(async (cluster, c) => {
      const vm1 = cluster.vm(1)
      for (const net of NETS) {
        for (const [d] of clusters.entries()) {
          for (const target of [1, 2]) {
            if (d === c && target === 1) continue
            const addr = tagged(d, net, target)
            const own = d === c
            // Net 0 in user mode is a slirp per VM: not even the own cluster's vm-002 answers there.
            const want = own && !(net === 0 && MODES[c] === 'user')
            const got = await vm1.ping(addr, 1)
            lines.push(`${MODES[c]}#${c} vm-001 -> ${addr} (${own ? 'own' : `cluster ${d}`}): ${got ? 'reached' : 'not reached'}`)
            if (got !== want) failures.push(lines.at(-1)!)
          }
        }
      }
    }),
  )
  expect(failures, lines.sort().join('\n')).toEqual([])
  // The negative checks ran on both nets for every pair of clusters.
  expect(lines.filter((l) => l.includes('(cluster')).length).toBe(4 * 3 * 2 * 2)
})
