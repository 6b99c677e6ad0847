// A cluster across two simulated hosts: two network namespaces, each with
// its own bridges and VMs, the bridges of each net joined by VXLAN (one VNI
// per net) over a veth underlay with room for the VXLAN overhead. As root it
// runs twice: with named namespaces, and rootless (a user namespace of the
// cluster's own, each network namespace held by a process); without root,
// rootless only.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { readlinkSync } from 'node:fs'
import { execa } from 'execa'
import { startCluster, type RunningCluster } from '../src/index.ts'
import { extraNamespaces, inClusterNs, leftovers, netnsList, processesInNetns } from './helpers/host.ts'
import { xclusterHome } from '../src/host/home.ts'
import { canRootBridge, canRootless, rootlessBlockers, skippedBecause } from './helpers/rights.ts'

const MODES = [
  { rootless: false, can: canRootBridge, why: 'needs root or CAP_NET_ADMIN (named namespaces)' },
  { rootless: true, can: canRootless, why: `rootless bridge mode is not allowed here: ${rootlessBlockers.join('; ')}` },
]

for (const mode of MODES) {
  const label = mode.rootless ? 'rootless' : 'root'
  describe(label, () => {
    // Vitest runs no hook of a describe whose tests are all skipped: the cluster is never started.
    const bridgeTest = (name: string, fn: () => Promise<void>): void => test.skipIf(!mode.can)(skippedBecause(name, !mode.can, mode.why), fn)
    const inNs = (ns: string, argv: string[]): Promise<{ stdout: string }> => {
      const [file, ...args] = inClusterNs(cluster.state.state, ns, argv)
      return execa(file, args)
    }

    let cluster: RunningCluster
    beforeAll(async () => {
      cluster = await startCluster({
        name: `two-hosts-${label}`, network: 'bridge', rootless: mode.rootless, nvm: 2, nrouters: 0, tools: true, stdAddresses: true,
        hosts: { a: [1], b: [2] },
      })
    })
    afterAll(async () => {
      await cluster?.stop()
    })

    bridgeTest('vm-001 runs on host a and vm-002 on host b: different namespaces, with their own bridges', async () => {
      const ns = (vm: number): string => readlinkSync(`/proc/${cluster.vm(vm).process.record.pid}/ns/net`)
      expect(ns(1)).not.toBe(ns(2))
      const own = `xc-${cluster.id}`
      const extra = extraNamespaces(cluster.state.state)
      expect(extra).toEqual([`${own}-b`, `${own}-ul`])
      expect(cluster.state.state.rootless === true).toBe(mode.rootless)
      const links = (await inNs(extra[0], ['ip', '-br', 'link'])).stdout
      for (const dev of ['xcbr0', 'xcbr1', 'vx0', 'vx1', 't2n0', 't2n1', 'underlay']) expect(links).toMatch(new RegExp(`^${dev}(@\\S+)?\\s`, 'm'))
      expect(links).not.toMatch(/^t1n0/m)
    })

    bridgeTest('vm-001 reaches vm-002 across the hosts on net 1 and on net 0, IPv4 and IPv6', async () => {
      for (const addr of ['192.168.1.2', '1000::1:192.168.1.2', '192.168.0.2', '1000::1:192.168.0.2']) {
        expect(await cluster.vm(1).ping(addr, 3), addr).toBe(true)
      }
    })

    bridgeTest('a full-size ping with do-not-fragment crosses the VXLAN (1500-byte packets, underlay MTU 1550)', async () => {
      const r = await cluster.vm(1).exec('ping -c 2 -W 3 -M do -s 1472 192.168.1.2')
      expect(r.exitCode, r.stdout + r.stderr).toBe(0)
      expect(r.stdout).toContain('1480 bytes from 192.168.1.2')
    })

    bridgeTest('the packets went over the underlay as VXLAN (UDP 4789)', async () => {
      const ul = `xc-${cluster.id}-ul`
      const bytes = async (): Promise<number> => {
        const [l] = JSON.parse((await inNs(ul, ['ip', '-s', '-j', 'link', 'show', 'u0'])).stdout) as Array<{ stats64: { rx: { bytes: number } } }>
        return l.stats64.rx.bytes
      }
      const before = await bytes()
      expect(await cluster.vm(1).run('ping -c 5 -i 0.2 -s 1000 192.168.1.2')).toContain('5 received')
      expect((await bytes()) - before).toBeGreaterThan(5 * 1000)
    })

    bridgeTest('the host side (on host a) reaches vm-002 on host b', async () => {
      const r = await cluster.hostExec(['busybox', 'ping', '-c1', '-W3', '192.168.0.2'])
      expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    })

    bridgeTest('stop removes every namespace of both hosts and the underlay', async () => {
      const s = cluster.state.state
      const nsIds = [...new Set([s.relay!.pid, ...(s.nsHolders ?? []).map((h) => h.pid), ...Object.values(s.vms).map((v) => v.process!.pid)].map((pid) => readlinkSync(`/proc/${pid}/ns/net`)))]
      expect(nsIds).toHaveLength(mode.rootless ? 3 : 2) // rootless, the underlay's holder is a process too
      const named = [`xc-${s.id}`, ...(s.netnsExtra ?? [])]
      const id = cluster.id
      await cluster.stop()
      const now = await netnsList()
      expect(named.filter((ns) => now.includes(ns))).toEqual([])
      // An unnamed namespace lives as long as a process is in it: none is.
      expect(processesInNetns(nsIds)).toEqual([])
      expect(await leftovers(xclusterHome(), [id])).toEqual([])
    })
  })
}
