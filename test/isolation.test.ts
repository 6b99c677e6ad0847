// Clusters side by side: two user-mode and two bridge-mode clusters with the
// same VM numbers run at once. Each VM also carries a cluster-specific
// address on every net; a VM must reach its own cluster's (positive control)
// and none of another's, on any net.
import { readlinkSync } from 'node:fs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startCluster, type RunningCluster } from '../src/index.ts'
import { NEEDS_BRIDGE_RIGHTS, canBridge } from './helpers/rights.ts'

// Without root or CAP_NET_ADMIN only the two user-mode clusters run (still a
// test of its own: their multicast nets must not meet), and a skipped test
// says why the bridge-mode ones are missing.
const MODES = canBridge ? (['user', 'user', 'bridge', 'bridge'] as const) : (['user', 'user'] as const)
const BRIDGED = MODES.filter((m) => m === 'bridge').length
const NETS = [0, 1]
let clusters: RunningCluster[] = []

/** The address that VM `vm` of cluster number `c` has on net `net`: 192.168.<net>.<100 + 10c + vm>. */
const tagged = (c: number, net: number, vm: number): string => `192.168.${net}.${100 + 10 * c + vm}`

beforeAll(async () => {
  const started = await Promise.allSettled(
    MODES.map((network, c) => startCluster({ name: `iso${c}`, network, nvm: 2, nrouters: 0, stdAddresses: true })),
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

if (!canBridge) test.skip(`two bridge-mode clusters beside them (skipped: ${NEEDS_BRIDGE_RIGHTS})`, () => {})

test('the clusters hold different ports, multicast groups and namespaces', () => {
  // As root: 4 clusters, 2 of them in namespaces of their own.
  const blocks = clusters.map((c) => c.plan.allocation.telnetBase)
  expect(new Set(blocks).size).toBe(MODES.length)
  expect(new Set(clusters.map((c) => c.plan.allocation.mcastGroupPrefix)).size).toBe(MODES.length)
  // A named namespace as root; rootless, the one its relay holds (the identity of its namespace file).
  const ns = clusters.filter((c) => c.plan.network === 'bridge').map((c) => c.netns ?? readlinkSync(`/proc/${c.state.state.relay!.pid}/ns/net`))
  expect(ns).toHaveLength(BRIDGED)
  expect(new Set(ns).size).toBe(BRIDGED)
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
  // The negative checks ran on both nets for every pair of clusters (as root 4 * 3 * 2 * 2).
  expect(lines.filter((l) => l.includes('(cluster')).length).toBe(MODES.length * (MODES.length - 1) * 2 * 2)
})
