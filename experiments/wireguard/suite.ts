// A WireGuard tunnel between two routers (wireguard-tools from Debian, the
// kernel's wireguard module): the node's net and the tester's net are joined
// through it, across a transit net that carries only the tunnel's encrypted
// UDP. A peer with the wrong key gets nothing through.
//
//   vm-001 -- net 1 -- vm-201 ==wg0== net 2 ==wg0== vm-202 -- net 3 -- vm-221
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import { onTestFinished } from 'vitest'
import { expect, test } from 'xcluster/vitest'
import type { RunningCluster } from 'xcluster'
import { beside, modeRuns } from '../../fixtures/experiment.ts'

const ovl = (role: string): string => beside(import.meta.url, `./overlays/${role}`)

/** Make router `vm`'s peer the other router, with public key `key`. */
async function setPeer(cluster: RunningCluster, vm: 201 | 202, key: string): Promise<void> {
  const other = vm === 201 ? 202 : 201
  const allowed = vm === 201 ? '10.99.0.2/32,192.168.3.0/24' : '10.99.0.1/32,192.168.1.0/24'
  await cluster.vm(vm).run(`wg set wg0 peer ${key} endpoint 192.168.2.${other}:51820 allowed-ips ${allowed} persistent-keepalive 1`)
}

const publicKey = (cluster: RunningCluster, vm: number): Promise<string> => cluster.vm(vm).run('wg show wg0 public-key').then((s) => s.trim())

/** Bytes wg0 of `vm` received from its peers. */
async function rxBytes(cluster: RunningCluster, vm: number): Promise<number> {
  const out = await cluster.vm(vm).run('wg show wg0 transfer')
  return out.trim().split('\n').filter(Boolean).reduce((n, l) => n + Number(l.split(/\s+/)[1]), 0)
}

/** A ping payload the captures look for: 16 bytes that cannot occur by chance. */
const PATTERN = 'c0ffee15a11ce0c0ffee15a11ce0cafe'

export function wireguardSuite(mode: 'user' | 'bridge'): void {
  if (!modeRuns(mode, `wireguard-${mode}: two nets joined through an encrypted tunnel`)) return
  test.override('clusterOptions', { scope: 'file' }, {
    name: `wg-${mode}`,
    network: mode,
    nvm: 1,
    nrouters: 2,
    ntesters: 1,
    netsVm: [0, 1],
    netsTester: [0, 3],
    nets: { 201: [0, 1, 2], 202: [0, 2, 3] },
    packagesRole: { router: ['wireguard-tools'] },
    overlaysRole: { node: [ovl('node')], router: [ovl('router')], tester: [ovl('tester')] },
  })

  test('with each router given the other as its peer, the node reaches the tester through the tunnel', async ({ cluster }) => {
    // ip link add ... type wireguard had the kernel load the module.
    expect(await cluster.vm(201).run('cat /proc/modules')).toMatch(/^wireguard /m)
    await setPeer(cluster, 201, await publicKey(cluster, 202))
    await setPeer(cluster, 202, await publicKey(cluster, 201))
    await cluster.vm(1).waitUntilSucceeds('ping -c1 -W1 192.168.3.221', { what: 'the tester through the tunnel', timeout: 20_000, interval: 500 })
    expect(Number((await cluster.vm(201).run('wg show wg0 latest-handshakes')).trim().split(/\s+/)[1])).toBeGreaterThan(0)
    const before = await rxBytes(cluster, 202)
    expect(await cluster.vm(1).run('ping -c5 -i0.2 -W2 192.168.3.221')).toMatch(/5 (packets )?received/)
    expect(await rxBytes(cluster, 202)).toBeGreaterThan(before + 5 * 84)
  })

  test('the transit net carries only encrypted UDP: the payload seen on net 1 is not on net 2', async ({ cluster }) => {
    await cluster.vm(201).startCapture('eth1')
    await cluster.vm(202).startCapture('eth1')
    expect(await cluster.vm(1).run(`ping -c3 -i0.2 -W2 -p ${PATTERN} 192.168.3.221`)).toMatch(/3 (packets )?received/)
    const plain = await cluster.vm(201).stopCapture('eth1')
    const transit = await cluster.vm(202).stopCapture('eth1')
    const pattern = Buffer.from(PATTERN, 'hex')
    // The control: on the node's net the payload is there in clear.
    expect(plain.indexOf(pattern)).toBeGreaterThan(0)
    expect(transit.length).toBeGreaterThan(3 * 100)
    expect(transit.indexOf(pattern)).toBe(-1)
    // And what crossed net 2 was WireGuard's UDP and no ICMP: the host's tcpdump reads the capture.
    const file = join(mkdtempSync(join(tmpdir(), 'xc-wg-')), 'transit.pcap')
    onTestFinished(() => rmSync(dirname(file), { recursive: true, force: true }))
    writeFileSync(file, transit)
    const count = async (filter: string): Promise<number> => (await execa('tcpdump', ['-nr', file, filter])).stdout.split('\n').filter(Boolean).length
    expect(await count('icmp')).toBe(0)
    expect(await count('udp port 51820')).toBeGreaterThanOrEqual(6)
  })

  test('a peer with the wrong key gets nothing through; the right key restores the tunnel', async ({ cluster }) => {
    const right = await publicKey(cluster, 201)
    const wrong = (await cluster.vm(202).run('wg genkey | wg pubkey')).trim()
    await cluster.vm(202).run(`wg set wg0 peer ${right} remove`)
    await setPeer(cluster, 202, wrong)
    expect((await cluster.vm(1).exec('ping -c3 -i0.3 -W1 192.168.3.221')).exitCode).not.toBe(0)
    await cluster.vm(202).run(`wg set wg0 peer ${wrong} remove`)
    await setPeer(cluster, 202, right)
    await cluster.vm(1).waitUntilSucceeds('ping -c1 -W1 192.168.3.221', { what: 'the tester through the tunnel', timeout: 20_000, interval: 500 })
  })
}
