// Real network tools in the VMs (the tools disk), ssh, and xcluster-style
// overlays, in both networking modes.
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startCluster, type RunningCluster } from '../src/index.ts'
import { XCLUSTER_STYLE_OVERLAY } from '../fixtures/index.ts'
import { canBridge, skippedBecause } from './helpers/rights.ts'

for (const network of ['user', 'bridge'] as const) {
  // Bridge mode without root or CAP_NET_ADMIN: skipped, the describe's name says why.
  const skip = network === 'bridge' && !canBridge
  describe.skipIf(skip)(skippedBecause(`${network} mode`, skip), () => {
    let cluster: RunningCluster
    beforeAll(async () => {
      process.env.SETUP = 'test-setup'
      // The xcluster-style overlay by name, found in the overlay search path.
      cluster = await startCluster({
        name: `tools-${network}`, network, nvm: 2, nrouters: 0, tools: true,
        stdAddresses: true, overlays: ['xcluster-style'], ovlPath: [dirname(XCLUSTER_STYLE_OVERLAY)],
      })
    })
    afterAll(async () => {
      await cluster?.stop()
    })

    test('ip route takes a multipath default; iproute2 is the ip in PATH, not busybox', async () => {
      const vm = cluster.vm(1)
      expect(await vm.run('ip -V')).toContain('iproute2')
      await vm.run('ip route replace default nexthop via 192.168.1.2 weight 1 nexthop via 192.168.0.250 weight 1')
      const routes = await vm.run('ip route show default')
      expect(routes).toMatch(/default\s+nexthop via 192\.168\.1\.2 dev eth1 weight 1\s+nexthop via 192\.168\.0\.250 dev eth0 weight 1/)
      await vm.run('ip route del default')
    })

    test('tcpdump -c 1 captures a packet of a ping', async () => {
      const r = await cluster.vm(2).exec('tcpdump -c 1 -n -i eth1 icmp 2>/dev/null & sleep 1; ping -c 3 -i 0.3 192.168.1.1 >/dev/null; wait', { timeout: 20_000 })
      expect(r.stdout).toMatch(/IP 192\.168\.1\.(1|2) > 192\.168\.1\.(2|1): ICMP echo (request|reply)/)
    })

    test('iperf3 -c against the other VM over net 1 reports a throughput', async () => {
      await cluster.vm(2).run('iperf3 -s -D -1')
      const out = await cluster.vm(1).run('iperf3 -c 192.168.1.2 -t 2 -J', { timeout: 30_000 })
      const bps = (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second
      expect(bps).toBeGreaterThan(0)
    })

    test('nft and iptables (nft backend) load their modules and list rules', async () => {
      const vm = cluster.vm(1)
      await vm.run('iptables -t nat -A POSTROUTING -s 192.168.1.0/24 -o eth0 -j MASQUERADE')
      expect(await vm.run('nft list ruleset')).toMatch(/oifname "eth0" ip saddr 192\.168\.1\.0\/24 .*masquerade/)
      expect(await vm.run('modprobe sch_netem && tc qdisc add dev eth1 root netem delay 1ms && tc qdisc show dev eth1')).toContain('netem')
      await vm.run('tc qdisc del dev eth1 root; iptables -t nat -F')
    })

    test('vm.ssh(): a command with stdout and stderr apart, and a file copied both ways', async () => {
      const ssh = await cluster.vm(2).ssh()
      expect(await ssh.exec('hostname; echo oops >&2; exit 3')).toEqual({ stdout: 'vm-002\n', stderr: 'oops\n', exitCode: 3 })
      const dir = mkdtempSync(join(tmpdir(), 'xc-ssh-'))
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
      const data = randomBytes(300_000)
      writeFileSync(join(dir, 'up.bin'), data)
      await ssh.put(join(dir, 'up.bin'), '/tmp/up.bin')
      expect((await ssh.exec('sha256sum /tmp/up.bin')).stdout.split(' ')[0]).toBe((await import('node:crypto')).createHash('sha256').update(data).digest('hex'))
      await ssh.get('/tmp/up.bin', join(dir, 'down.bin'))
      expect(readFileSync(join(dir, 'down.bin')).equals(data)).toBe(true)
    })

    test('an xcluster-style overlay: its tar script ran with the settings, its rc ran at boot', async () => {
      expect(await cluster.vm(1).run('cat /etc/generated-by-tar-script')).toBe('nodes=2 routers=0 setup=test-setup\n')
      expect(await cluster.vm(2).run('cat /tmp/hello')).toBe('hello from vm-002 at boot\n')
    })
  })
}
