// Clusters side by side: two user-mode clusters with private nets (in
// namespaces of their own, with the same ports and multicast groups), two with
// shared nets (on the host's loopback, with a block of ports and groups each)
// and two bridge-mode clusters, with the same VM numbers, run at once. Each VM
// also carries a cluster-specific address on every net; a VM must reach its
// own cluster's (positive control) and none of another's, on any net.
import { readlinkSync } from 'node:fs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startCluster, type RunningCluster } from '../src/index.ts'
import { NEEDS_BRIDGE_RIGHTS, canBridge } from './helpers/rights.ts'

// Without root or CAP_NET_ADMIN only the two user-mode clusters run (still a
// test of its own: their multicast nets must not meet), and a skipped test
// says why the bridge-mode ones are missing.
const USER = ['private', 'private', 'shared', 'shared'] as const
const MODES = canBridge ? ([...USER, 'bridge', 'bridge'] as const) : USER
/** The clusters whose ports and groups are in a namespace of their own. */
const NAMESPACED = MODES.filter((m) => m !== 'shared').length
const NETS = [0, 1]
let clusters: RunningCluster[] = []

/** The address that VM `vm` of cluster number `c` has on net `net`: 192.168.<net>.<100 + 10c + vm>. */
const tagged = (c: number, net: number, vm: number): string => `192.168.${net}.${100 + 10 * c + vm}`

beforeAll(async () => {
  const started = await Promise.allSettled(
    MODES.map((mode, c) => startCluster({ name: `iso${c}`, ...(mode === 'bridge' ? { network: 'bridge' } : { network: 'user', userNets: mode }), nvm: 2, nrouters: 0, stdAddresses: true })),
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

test('the shared clusters hold different ports and multicast groups on the host; the others each a namespace of their own, with the same ones', () => {
  const shared = clusters.filter((c) => c.state.state.userNets === 'shared')
  expect(shared).toHaveLength(2)
  expect(new Set(shared.map((c) => c.plan.allocation.telnetBase)).size).toBe(2)
  expect(new Set(shared.map((c) => c.plan.allocation.mcastGroupPrefix)).size).toBe(2)
  const namespaced = clusters.filter((c) => c.state.state.userNets !== 'shared')
  expect(namespaced).toHaveLength(NAMESPACED)
  // No lock, one block for all: their ports are the same numbers, in different namespaces.
  expect(new Set(namespaced.map((c) => c.plan.allocation.telnetBase)).size).toBe(1)
  expect(namespaced.every((c) => c.state.state.portBlock === undefined)).toBe(true)
  // A named namespace as root; else the one its relay holds (the identity of its namespace file).
  const ns = namespaced.map((c) => c.netns ?? readlinkSync(`/proc/${c.state.state.relay!.pid}/ns/net`))
  expect(new Set(ns).size).toBe(NAMESPACED)
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
            const want = own && !(net === 0 && MODES[c] !== 'bridge')
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
