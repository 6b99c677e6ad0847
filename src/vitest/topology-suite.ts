// A reachability suite for a standard topology, in the spirit of xcluster's
// network-topology test: every listed ping in IPv4 and IPv6, the host alias
// reached through the routers (NAT), and what must not be reachable. A
// failing test gets the topology picture (SVG) written and named in its errors.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { expect, test } from './fixtures.ts'
import type { ClusterOptions } from '../cluster/options.ts'
import type { RunningCluster } from '../cluster/running-cluster.ts'
import { bridgeModeProblems } from '../host/rootless.ts'
import { vmName } from '../plan/spec.ts'

export interface TopologyChecks {
  /** [from VM, IPv4 address]: must answer, and so must <prefix>:<address>. */
  reach: Array<[number, string]>
  /** [from VM, address]: must not answer (IPv4 or IPv6 as written). */
  unreachable?: Array<[number, string]>
  /** [VM, device]: reaches the host alias 192.168.0.250 bound to `device`, i.e. through the routers and their NAT. */
  external?: Array<[number, string]>
}

/** Where failing topology tests put their pictures. */
export const DIAGRAM_DIR = resolve(process.env.XCLUSTER_DIAGRAM_DIR ?? 'test-results/diagrams')

/** Write the picture of `cluster` and return its path. */
export function writeDiagram(cluster: RunningCluster, name: string): string {
  mkdirSync(DIAGRAM_DIR, { recursive: true })
  const path = join(DIAGRAM_DIR, `${name}.svg`)
  writeFileSync(path, cluster.svg(name))
  return path
}

/**
 * Define the suite in the calling file: one cluster of `topology` in `mode`.
 * Bridge mode where it cannot run (no root, and a host that does not allow
 * it rootless) is one skipped test that says why.
 */
export function topologySuite(topology: string, mode: 'user' | 'bridge', options: ClusterOptions, checks: TopologyChecks): void {
  const label = `${topology}-${mode}`
  const blockers = mode === 'bridge' ? bridgeModeProblems() : []
  if (blockers.length) {
    // Bridge mode makes a namespace, bridges and taps: without root, or a host that allows them rootless, the cluster is never started.
    test.skip(`${label}: the reachability checks of the topology (skipped: bridge mode cannot run here: ${blockers.join('; ')})`, () => {})
    return
  }
  test.override('clusterOptions', { scope: 'file' }, { name: label, topology, network: mode, ...options })

  const withPicture = (ctx: { cluster: RunningCluster; onTestFailed: (fn: (c: { task: { result?: { errors?: unknown[] } } }) => void) => void }): void => {
    ctx.onTestFailed(({ task }) => {
      const path = writeDiagram(ctx.cluster, label)
      task.result?.errors?.push({ name: 'TopologyPicture', message: `the topology of this cluster: ${path}`, stack: '' } as never)
    })
  }

  test('the pings of the original test answer, IPv4 and IPv6', async ({ cluster, onTestFailed }) => {
    withPicture({ cluster, onTestFailed })
    const prefix = cluster.plan.prefix
    const results = await Promise.all(
      checks.reach.flatMap(([from, addr]) => [addr, `${prefix}:${addr}`].map(async (a) => [from, a, await cluster.vm(from).ping(a, 2)] as const)),
    )
    const lines = results.map(([from, a, ok]) => `${vmName(from)} -> ${a}: ${ok ? 'reached' : 'NOT reached'}`)
    expect(results.filter(([, , ok]) => !ok).length, lines.join('\n')).toBe(0)
  })

  if (checks.external?.length) {
    test('the host alias 192.168.0.250 is reached through the routers and their NAT (IPv4)', async ({ cluster, onTestFailed }) => {
      const ctx = { cluster, onTestFailed }
      withPicture(ctx)
      for (const [vm, dev] of checks.external!) {
        const r = await ctx.cluster.vm(vm).exec(`ping -c1 -W3 -I ${dev} 192.168.0.250`)
        expect(r.exitCode, `vm-${vm} via ${dev}: ${r.stdout}${r.stderr}`).toBe(0)
      }
      // The routers masqueraded it: their NAT rules counted packets.
      const counted = await Promise.all(
        ctx.cluster.vms.filter((v) => v.role === 'router').map(async (v) => (await v.exec('iptables -t nat -L POSTROUTING -n -v -x')).stdout),
      )
      const packets = counted.flatMap((t) => [...t.matchAll(/^\s*(\d+)\s+\d+\s+MASQUERADE/gm)].map((m) => Number(m[1])))
      expect(packets.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    })
  }

  if (checks.unreachable?.length) {
    test('what the topology does not route stays unreachable', async ({ cluster, onTestFailed }) => {
      const ctx = { cluster, onTestFailed }
      withPicture(ctx)
      for (const [from, addr] of checks.unreachable!) {
        await expect(ctx.cluster.vm(from), `vm-${from} -> ${addr}`).not.toReach(addr, 1)
      }
    })
  }
}
