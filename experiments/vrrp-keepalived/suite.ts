// VRRP with keepalived (Debian's): two routers share a virtual gateway on
// each of their nets (192.168.1.100 for the node, 192.168.2.100 for the
// tester), vm-201 the master by priority. The tester pings the node through
// the gateways, ten pings a second, while the master fails: first it hangs
// (its VM paused: the backup takes over when three adverts are missed), then,
// once back and master again, keepalived on it is stopped (it says so with a
// priority-0 advert and the backup takes over at once). The pings lost are
// counted and bounded.
//
//   vm-001 -- net 1 -- vm-201, vm-202 -- net 2 -- vm-221
import { expect, test } from 'xcluster/vitest'
import type { RunningCluster } from 'xcluster'
import { beside, modeRuns } from '../../fixtures/experiment.ts'

const ovl = (role: string): string => beside(import.meta.url, `./overlays/${role}`)

/** The virtual addresses router `vm` holds now. */
async function holds(cluster: RunningCluster, vm: number): Promise<string[]> {
  const out = await cluster.vm(vm).run('ip -4 -o addr show')
  return [...out.matchAll(/inet (192\.168\.[12]\.100)\//g)].map((m) => m[1]).sort()
}

const BOTH = ['192.168.1.100', '192.168.2.100']

/** Wait (within `budget`) until router `vm` holds both virtual addresses and the other none. */
async function masterIs(cluster: RunningCluster, vm: 201 | 202, budget: string): Promise<void> {
  const want = vm === 201 ? [BOTH, []] : [[], BOTH]
  await cluster.waitUntil(async () => expect([await holds(cluster, 201), await holds(cluster, 202)]).toEqual(want), { what: `vm-${vm} master of both addresses`, budget })
}

/**
 * Pings from the tester to the node, 10 a second for `seconds`, while `fault`
 * runs (after 2 s); the number sent and received.
 */
async function pingsThrough(cluster: RunningCluster, seconds: number, fault: () => Promise<void>): Promise<{ sent: number; received: number }> {
  const n = seconds * 10
  await cluster.vm(221).run(`rm -f /tmp/ping.log; setsid /usr/bin/ping -n -i 0.1 -W 1 -c ${n} 192.168.1.1 > /tmp/ping.log 2>&1 < /dev/null &`)
  // Two seconds of pings answered before the fault.
  await cluster.vm(221).waitUntilSucceeds("grep -q 'icmp_seq=20 ' /tmp/ping.log", { what: '20 pings answered', timeout: 10_000, interval: 100 })
  await fault()
  await cluster.vm(221).waitUntilSucceeds("grep -q 'packets transmitted' /tmp/ping.log", { what: "ping's summary", timeout: (seconds + 30) * 1000, interval: 500 })
  // iputils ping (the tools'; busybox's setsid would run its own applet for a bare `ping`).
  const log = await cluster.vm(221).run('cat /tmp/ping.log')
  const m = /(\d+) packets transmitted, (\d+) received/.exec(log)
  if (!m) throw new Error(`no ping summary in:\n${log}`)
  return { sent: Number(m[1]), received: Number(m[2]) }
}

export function vrrpSuite(mode: 'user' | 'bridge'): void {
  if (!modeRuns(mode, `vrrp-keepalived-${mode}: a virtual gateway moves to the backup when the master fails`)) return
  test.override('clusterOptions', { scope: 'file' }, {
    name: `vrrp-${mode}`,
    network: mode,
    nvm: 1,
    nrouters: 2,
    ntesters: 1,
    netsVm: [0, 1],
    netsRouter: [0, 1, 2],
    netsTester: [0, 2],
    packagesRole: { router: ['keepalived'] },
    overlaysRole: { node: [ovl('node')], router: [ovl('router')], tester: [ovl('tester')] },
  })

  test('vm-201 is master: it holds both virtual addresses, vm-202 none; the tester reaches the node through them', async ({ cluster }) => {
    await masterIs(cluster, 201, 'daemon')
    expect(await cluster.vm(221).run('ping -c3 -i0.2 -W2 192.168.1.1')).toMatch(/3 received/)
  })

  test('the master hangs (paused): vm-202 takes both addresses, and the tester loses few pings', async ({ cluster, annotate }) => {
    // The backup's takeover is asserted inside the fault; a poll that runs out fails the test.
    const r = await pingsThrough(cluster, 10, async () => {
      await cluster.vm(201).pause()
      await cluster.vm(202).waitUntil(async () => expect(await holds(cluster, 202)).toEqual(BOTH), { what: 'both virtual addresses', budget: 'vrrpFailover', interval: 100 })
    })
    const lost = r.sent - r.received
    await annotate(`master paused: ${lost} of ${r.sent} pings lost (one every 0.1 s)`)
    // Three missed adverts (0.6 s) and the skew make about 0.7 s: 7 pings. 20 (2 s) leaves room for a loaded machine.
    expect(lost).toBeLessThanOrEqual(20)
    expect(r.received).toBeGreaterThan(0)
  })

  test('the old master resumes and takes its addresses back (preemption); the backup gives them up', async ({ cluster }) => {
    await cluster.vm(201).resume()
    await masterIs(cluster, 201, 'vrrpFailover')
    expect(await cluster.vm(221).run('ping -c3 -i0.2 -W2 192.168.1.1')).toMatch(/3 received/)
  })

  test('keepalived on the master is stopped: it hands over with a priority-0 advert, and fewer pings are lost', async ({ cluster, annotate }) => {
    const r = await pingsThrough(cluster, 6, async () => {
      await cluster.vm(201).run('kill $(cat /run/keepalived.pid)')
      await cluster.vm(202).waitUntil(async () => expect(await holds(cluster, 202)).toEqual(BOTH), { what: 'both virtual addresses', budget: 'vrrpFailover', interval: 100 })
    })
    const lost = r.sent - r.received
    await annotate(`master's keepalived stopped: ${lost} of ${r.sent} pings lost`)
    expect(await holds(cluster, 201)).toEqual([])
    expect(lost).toBeLessThanOrEqual(10)
  })
}
