// The seed's experiment as one suite for both networking modes: what each VM
// can reach over the internal net (0) and the cluster net (1), the host
// alias, and the model's names, MACs and NICs.
import { expect, test } from 'xcluster/vitest'
import { macOf, vmName } from 'xcluster'
import { modeRuns } from '../../fixtures/experiment.ts'

/** Define the suite for `mode` in the calling file (one cluster per file). */
export function networkingSuite(mode: 'user' | 'bridge'): void {
  // Bridge mode without root or CAP_NET_ADMIN (this process's CapEff): one skipped test that says why; no cluster is started.
  if (!modeRuns(mode, 'seed-bridge: what each VM reaches over nets 0 and 1, the host alias, names, MACs and NICs')) return
  test.override('clusterOptions', { scope: 'file' }, { name: `seed-${mode}`, network: mode, nvm: 2, nrouters: 1 })

  test('vm-001 reaches vm-002 over the cluster net (net 1), IPv4 and IPv6', async ({ cluster }) => {
    expect((await cluster.vm(1).exec('ping -c1 -W2 192.168.1.2')).exitCode).toBe(0)
    expect((await cluster.vm(1).exec('ping6 -c1 -W2 1000::1:192.168.1.2')).exitCode).toBe(0)
  })

  if (mode === 'user') {
    test('vm-001 cannot reach vm-002 over the internal net (slirp is per VM)', async ({ cluster }) => {
      expect((await cluster.vm(1).exec('ping -c1 -W2 192.168.0.2')).exitCode).not.toBe(0)
    })
  } else {
    test('vm-001 reaches vm-002 over the internal net (one bridge for net 0)', async ({ cluster }) => {
      expect((await cluster.vm(1).exec('ping -c1 -W2 192.168.0.2')).exitCode).toBe(0)
    })
    test('the host side reaches every VM at 192.168.0.v', async ({ cluster }) => {
      for (const vm of cluster.vms) {
        const r = await cluster.hostExec(['busybox', 'ping', '-c1', '-W2', `192.168.0.${vm.num}`])
        expect(r.exitCode, `${vm.name}: ${r.stdout}${r.stderr}`).toBe(0)
      }
    })
  }

  test('every VM reaches the host alias 192.168.0.250', async ({ cluster }) => {
    for (const vm of cluster.vms) await expect(vm).toReach('192.168.0.250')
  })

  test('nothing answers on the cluster net at the host alias (the host is on net 0 only)', async ({ cluster }) => {
    await expect(cluster.vm(1)).not.toReach('192.168.1.250', 1)
  })

  test('hostname and eth0 MAC follow the model', async ({ cluster }) => {
    for (const vm of cluster.vms) {
      expect(await vm.run('hostname')).toBe(`${vmName(vm.num)}\n`)
      expect(await vm.run('cat /sys/class/net/eth0/address')).toBe(`${macOf(vm.num, 0)}\n`)
      expect(await vm.run('ip -4 -o addr show dev eth0')).toContain(`192.168.0.${vm.num}/24`)
    }
  })

  test('a router has three NICs (nets 0,1,2) and a node two (nets 0,1)', async ({ cluster }) => {
    const nics = async (n: number): Promise<string[]> =>
      (await cluster.vm(n).run('ls /sys/class/net')).split(/\s+/).filter((d) => d.startsWith('eth'))
    expect(await nics(201)).toEqual(['eth0', 'eth1', 'eth2'])
    expect(await nics(1)).toEqual(['eth0', 'eth1'])
    expect(await cluster.vm(201).run('cat /sys/class/net/eth2/address')).toBe(`${macOf(201, 2)}\n`)
  })

  test('the whole reachability matrix on nets 0 and 1, what must and what must not answer', async ({ cluster }) => {
    const bridge = mode === 'bridge'
    // Rows: VMs; columns: net 1 addresses, then net 0 addresses of the others and the host alias.
    await expect(cluster).toHaveReachability({
      from: [1, 2, 201],
      to: ['192.168.1.1', '192.168.1.2', '192.168.1.201', '192.168.0.2', '192.168.0.250', '192.168.2.201'],
      expect: [
        [true, true, true, bridge, true, false],
        [true, true, true, true, true, false],
        [true, true, true, bridge, true, true],
      ],
      wait: 1,
    })
  })

  test('a wrong expectation fails with the whole matrix, the differences marked', async ({ cluster }) => {
    const err = await expect(cluster)
      .toHaveReachability({ from: [1], to: ['192.168.1.2', '192.168.2.201'], expect: [[false, false]], wait: 1 })
      .catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).message).toContain('reachability differs (marked !!)')
    expect((err as Error).message).toMatch(/vm-001\s+yes \(want no\) !!\s+no/)
  })

  test('the router reaches vm-002 on net 1; net 2 has no node', async ({ cluster }) => {
    await expect(cluster.vm(201)).toReach('192.168.1.2')
    await expect(cluster.vm(1)).not.toReach('192.168.2.201', 1)
  })
}
