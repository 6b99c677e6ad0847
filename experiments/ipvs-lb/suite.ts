// L4 load balancing with IPVS: a director (vm-201) holds the virtual IP
// 10.0.0.100 and spreads TCP connections to port 80 round robin over three
// real servers (the nodes, busybox httpd answering with their names), in NAT
// mode; keepalived's health checker (Debian's keepalived, with ipvsadm to
// read the table) takes a real server out when it stops answering and puts
// it back when it answers again. The tester (vm-221) makes the connections
// with curl (Debian's, a package of its role).
//
//   vm-001, vm-002, vm-003 -- net 1 -- vm-201 (VIP) -- net 2 -- vm-221
import { expect, test } from 'xcluster/vitest'
import type { RunningCluster } from 'xcluster'
import { beside, modeRuns, secs, timed } from '../../fixtures/experiment.ts'

const ovl = (role: string): string => beside(import.meta.url, `./overlays/${role}`)

/** Answers per real server to `n` new connections from the tester to the virtual IP. */
async function spread(cluster: RunningCluster, n: number): Promise<Record<string, number>> {
  const out = await cluster.vm(221).run(`for i in $(seq ${n}); do curl -s -m 3 http://10.0.0.100/ || echo failed; done`, { timeout: 120_000 })
  const counts: Record<string, number> = {}
  for (const name of out.split('\n').filter(Boolean)) counts[name] = (counts[name] ?? 0) + 1
  return counts
}

/** The real servers in the director's IPVS table for the virtual service. */
async function realServers(cluster: RunningCluster): Promise<string[]> {
  const out = await cluster.vm(201).run('ipvsadm -Ln -t 10.0.0.100:80')
  return [...out.matchAll(/-> (192\.168\.1\.\d+):80/g)].map((m) => m[1]).sort()
}

/** Connections IPVS counted per real server (ipvsadm --stats). */
async function ipvsConns(cluster: RunningCluster): Promise<Record<string, number>> {
  const out = await cluster.vm(201).run('ipvsadm -Ln --stats -t 10.0.0.100:80')
  return Object.fromEntries([...out.matchAll(/-> (192\.168\.1\.\d+):80\s+(\d+)/g)].map((m) => [m[1], Number(m[2])]))
}

export function ipvsSuite(mode: 'user' | 'bridge'): void {
  if (!modeRuns(mode, `ipvs-lb-${mode}: connections to a virtual IP spread over three real servers; a stopped one leaves the pool`)) return
  test.override('clusterOptions', { scope: 'file' }, {
    name: `ipvs-${mode}`,
    network: mode,
    nvm: 3,
    nrouters: 1,
    ntesters: 1,
    netsVm: [0, 1],
    netsRouter: [0, 1, 2],
    netsTester: [0, 2],
    packagesRole: { router: ['ipvsadm', 'keepalived'], tester: ['curl'] },
    // keepalived's health check: a connect timeout of 2 s, checked every 2 s; more than 10 s under TCG on a loaded machine.
    budgets: { healthCheck: 30_000 },
    overlaysRole: { node: [ovl('node')], router: [ovl('router')], tester: [ovl('tester')] },
  })

  test('the director\'s IPVS table holds the virtual service with all three nodes', async ({ cluster }) => {
    await cluster.waitUntil(async () => expect(await realServers(cluster)).toEqual(['192.168.1.1', '192.168.1.2', '192.168.1.3']), {
      what: "the three nodes in the director's IPVS table", budget: 'daemon', interval: 500,
    })
    expect(await cluster.vm(201).run('ipvsadm -Ln')).toMatch(/TCP\s+10\.0\.0\.100:80 rr/)
    // ip_vs was loaded on demand, from the tools disk's modules.
    expect(await cluster.vm(201).run('cat /proc/modules')).toMatch(/^ip_vs /m)
  })

  // Round robin gives each node 20 of 60; a health check that flaps on a loaded machine shifts a few.
  test('60 connections from the tester spread over the three nodes', async ({ cluster }) => {
    const before = await ipvsConns(cluster)
    const counts = await spread(cluster, 60)
    expect(Object.keys(counts).sort()).toEqual(['vm-001', 'vm-002', 'vm-003'])
    for (const n of Object.values(counts)) expect(n).toBeGreaterThanOrEqual(15)
    // IPVS's own count per real server agrees (its totals are summed by the kernel's estimator, every 2 s).
    const delta = async (): Promise<number[]> => {
      const after = await ipvsConns(cluster)
      return ['192.168.1.1', '192.168.1.2', '192.168.1.3'].map((ip) => after[ip] - (before[ip] ?? 0))
    }
    await cluster.waitUntil(async () => expect(await delta()).toEqual(['vm-001', 'vm-002', 'vm-003'].map((n) => counts[n])), {
      what: "IPVS's connection counts to match the answers", timeout: 10_000, interval: 500,
    })
  })

  test('vm-003 stops: the health check takes it out and its share moves to the others', async ({ cluster, annotate }) => {
    await cluster.vm(3).pause()
    const { ms } = await timed(() => cluster.waitUntil(async () => expect(await realServers(cluster)).toEqual(['192.168.1.1', '192.168.1.2']), {
      what: 'vm-003 out of the IPVS table', budget: 'healthCheck',
    }))
    await annotate(`vm-003 out of the pool after ${secs(ms)}`)
    const counts = await spread(cluster, 40)
    expect(Object.keys(counts).sort()).toEqual(['vm-001', 'vm-002'])
    for (const n of Object.values(counts)) expect(n).toBeGreaterThanOrEqual(15)
  })

  test('vm-003 resumes: it is back in the pool and gets its share again', async ({ cluster }) => {
    await cluster.vm(3).resume()
    await cluster.waitUntil(async () => expect(await realServers(cluster)).toEqual(['192.168.1.1', '192.168.1.2', '192.168.1.3']), {
      what: 'vm-003 back in the IPVS table', budget: 'healthCheck',
    })
    const counts = await spread(cluster, 30)
    expect(Object.keys(counts).sort()).toEqual(['vm-001', 'vm-002', 'vm-003'])
    for (const n of Object.values(counts)) expect(n).toBeGreaterThanOrEqual(7)
  })
}
