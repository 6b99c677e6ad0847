// Open vSwitch as the cluster's network, through the net-setup hook, as the
// seed describes it ("something else than the default bridge/tap
// networking, for instance ovs"): fixtures/net-setup/net-setup-ovs.sh gives
// every NIC a tap on an OVS bridge of its net, with OVS daemons of the
// cluster's own. What it shows: every net carries the VMs' traffic through
// OVS (and not through the harness's Linux bridges), an OpenFlow rule stops
// exactly the traffic it names while its packet counter rises, removing it
// restores that traffic, ovs-vsctl lists one port per NIC, and after the stop
// nothing of this OVS is left, while the host's own OVS is never touched.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { expect, test } from 'xcluster/vitest'
import type { RunningCluster } from 'xcluster'
import { NET_SETUP_OVS } from '../../fixtures/index.ts'
import { leftovers, modeRuns, processesNaming } from '../../fixtures/experiment.ts'

/** The datapath the script picks on this host: the kernel's where its openvswitch module is loaded, else OVS's userspace one. */
const DATAPATH = existsSync('/sys/module/openvswitch') ? 'system' : 'netdev'
const WHY_DATAPATH = DATAPATH === 'system' ? 'the openvswitch module is loaded' : 'this host kernel has no openvswitch module'
const OVS_MISSING = !['/usr/sbin/ovsdb-server', '/usr/sbin/ovs-vswitchd', '/usr/bin/ovs-vsctl', '/usr/bin/ovs-ofctl'].every((p) => existsSync(p))

/** What the host's own Open vSwitch has on disk and running, to compare before and after. */
function hostOvs(): string[] {
  const out: string[] = []
  for (const dir of ['/run/openvswitch', '/etc/openvswitch', '/var/lib/openvswitch', '/var/log/openvswitch']) {
    if (!existsSync(dir)) {
      out.push(`${dir}: none`)
      continue
    }
    for (const f of readdirSync(dir).sort()) {
      const s = statSync(`${dir}/${f}`, { throwIfNoEntry: false })
      out.push(`${dir}/${f} ${s ? `${s.size} ${s.mtimeMs}` : 'dangling'}`)
    }
  }
  return out
}

/** True when process `pid` runs and its argv names `path`. */
function runsNaming(pid: number, path: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path)
  } catch {
    return false
  }
}

/** Define the suite in the calling file (one cluster per file), root or rootless. */
export function ovsSuite(rootless: boolean): void {
  const title = `Open vSwitch through the net-setup hook (${rootless ? 'rootless' : 'root'}, datapath ${DATAPATH}: ${WHY_DATAPATH})`
  if (!modeRuns('bridge', title)) return
  if (OVS_MISSING) {
    // Measured at load: the programs of Debian's openvswitch-switch are not at their Debian paths on this host.
    test.skip(`${title} (skipped: ovs-vswitchd or ovsdb-server not found: npm run setup installs openvswitch-switch)`, () => {})
    return
  }
  const hostOvsBefore = hostOvs()
  test.override('clusterOptions', { scope: 'file' }, {
    name: `ovs-${rootless ? 'rootless' : 'root'}`,
    nvm: 2,
    nrouters: 2,
    rootless,
    network: { base: 'bridge', netSetup: NET_SETUP_OVS },
  })

  /** An OVS command in the cluster's namespace, against the cluster's own daemons (OVS_RUNDIR). */
  async function ovs(cluster: RunningCluster, ...argv: string[]): Promise<string> {
    const r = await cluster.hostExec(['env', `OVS_RUNDIR=${cluster.stateDir}/ovs`, ...argv])
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: exit ${r.exitCode}: ${r.stderr}`)
    return r.stdout
  }

  /** Packets OVS received on each port of bridge `br`, by port name. */
  async function rxByPort(cluster: RunningCluster, br: string): Promise<Map<string, number>> {
    const names = new Map<string, string>()
    for (const m of (await ovs(cluster, 'ovs-ofctl', 'show', br)).matchAll(/^\s*(\d+|LOCAL)\((\S+)\):/gm)) names.set(m[1], m[2])
    const rx = new Map<string, number>()
    for (const m of (await ovs(cluster, 'ovs-ofctl', 'dump-ports', br)).matchAll(/port\s+"?(\d+|LOCAL)"?:\s*rx pkts=(\d+)/g)) rx.set(names.get(m[1]) ?? m[1], Number(m[2]))
    return rx
  }

  test(`the daemons are the cluster's, with the ${DATAPATH} datapath (${WHY_DATAPATH})`, async ({ cluster }) => {
    const daemons = cluster.state.state.daemons ?? []
    expect(daemons.map((d) => d.name)).toEqual(['ovsdb-server', 'ovs-vswitchd'])
    for (const d of daemons) expect(processesNaming(cluster.stateDir).some((p) => p.startsWith(`${d.pid} `)), `${d.name} runs, its argv naming the state directory`).toBe(true)
    for (const net of [0, 1, 2]) expect((await ovs(cluster, 'ovs-vsctl', 'get', 'bridge', `xcovs${net}`, 'datapath_type')).trim()).toBe(DATAPATH)
  })

  test('ovs-vsctl show lists one port per NIC, on the bridge of its net', async ({ cluster }) => {
    const show = await ovs(cluster, 'ovs-vsctl', 'show')
    const ports = [...show.matchAll(/^\s+Port "?([^"\s]+)"?$/gm)].map((m) => m[1]).filter((p) => /^o\d+n\d+$/.test(p))
    const nics = cluster.plan.vms.flatMap((vm) => vm.nics.map((nic) => `o${vm.num}n${nic.net}`))
    expect(ports.sort()).toEqual(nics.sort())
    for (const net of [0, 1, 2]) {
      const list = (await ovs(cluster, 'ovs-vsctl', 'list-ports', `xcovs${net}`)).split('\n').filter(Boolean).sort()
      const want = cluster.plan.vms.filter((vm) => vm.nics.some((n) => n.net === net)).map((vm) => `o${vm.num}n${net}`)
      // Net 0 also has the uplink to the harness's bridge xcbr0, where 192.168.0.250 is.
      expect(list).toEqual([...want, ...(net === 0 ? ['xcovs0up'] : [])].sort())
    }
  })

  test('the VMs reach each other on every net, through OVS and no Linux bridge', async ({ cluster }) => {
    const before = await Promise.all([0, 1, 2].map((net) => rxByPort(cluster, `xcovs${net}`)))
    await expect(cluster).toHaveReachability({
      from: [1, 201],
      to: ['192.168.0.2', '192.168.0.202', '192.168.1.2', '192.168.1.202', '192.168.2.202', '1000::1:192.168.1.2'],
      expect: [
        [true, true, true, true, false],
        [true, true, true, true, true],
      ].map((row) => [...row, true]),
      wait: 2,
    })
    const after = await Promise.all([0, 1, 2].map((net) => rxByPort(cluster, `xcovs${net}`)))
    // Each sender's port on each net took the pings in.
    for (const [net, vm] of [[0, 1], [0, 201], [1, 1], [1, 201], [2, 201]]) {
      const port = `o${vm}n${net}`
      expect(after[net].get(port)! - (before[net].get(port) ?? 0), port).toBeGreaterThanOrEqual(1)
    }
    // The harness's bridges of nets 1 and 2 have no port: nothing else could have carried it.
    for (const br of ['xcbr1', 'xcbr2']) expect((await cluster.hostExec(['ip', '-br', 'link', 'show', 'master', br])).stdout.trim(), br).toBe('')
  })

  test('an OpenFlow drop rule stops exactly vm-001 to vm-002 over net 1, and counts it; removing it restores that traffic', async ({ cluster }) => {
    const match = 'ip,nw_src=192.168.1.1,nw_dst=192.168.1.2'
    await expect(cluster.vm(1)).toReach('192.168.1.2')
    await ovs(cluster, 'ovs-ofctl', 'add-flow', 'xcovs1', `priority=100,${match},actions=drop`)
    const packets = async (): Promise<number> => Number(/n_packets=(\d+)/.exec(await ovs(cluster, 'ovs-ofctl', 'dump-flows', 'xcovs1', match))?.[1] ?? NaN)
    const counted = await packets()
    const r = await cluster.vm(1).exec('ping -c3 -i0.3 -W1 192.168.1.2')
    expect(r.exitCode, r.stdout).not.toBe(0)
    expect(r.stdout).toContain('0 packets received')
    expect(await packets()).toBeGreaterThanOrEqual(counted + 3)
    // Exactly that traffic: the same VMs over net 0, over IPv6 on net 1, and vm-001 to vm-202 over net 1 still pass.
    await expect(cluster.vm(1)).toReach('192.168.0.2')
    await expect(cluster.vm(1)).toReach('1000::1:192.168.1.2')
    await expect(cluster.vm(1)).toReach('192.168.1.202')
    await ovs(cluster, 'ovs-ofctl', 'del-flows', 'xcovs1', match)
    expect(await ovs(cluster, 'ovs-ofctl', 'dump-flows', 'xcovs1', match)).not.toContain('actions=drop')
    expect((await cluster.vm(1).exec('ping -c3 -i0.3 -W2 192.168.1.2')).stdout).toContain('3 packets received')
  })

  test("the stop leaves nothing of this OVS, and the host's own OVS is untouched", async ({ cluster }) => {
    const daemons = [...(cluster.state.state.daemons ?? [])]
    expect(daemons).toHaveLength(2)
    const { id, stateDir } = cluster
    await cluster.stop()
    // Its namespace (with the bridges, taps and veths), state directory (database, sockets, logs), port block and
    // processes (the daemons' argv names their database and sockets there).
    expect(await leftovers(dirname(dirname(stateDir)), [id])).toEqual([])
    for (const d of daemons) expect(runsNaming(d.pid!, stateDir), `${d.name} (pid ${d.pid})`).toBe(false)
    expect(hostOvs()).toEqual(hostOvsBefore)
  })
}
