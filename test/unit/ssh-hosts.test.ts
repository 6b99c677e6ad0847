// The pure parts of hosts over ssh: the options, the placement by cores and
// memory, the host probe, the known_hosts matching, and the scripts run on
// a host. (The real path, over real sshd servers, is test/ssh-hosts.test.ts.)
import { createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { checkOptions } from '../../src/cluster/options.ts'
import { mtuScript, readProbe } from '../../src/cluster/ssh-hosts.ts'
import { isClusterRunDir, remoteCleanupScript } from '../../src/host/remote-cleanup.ts'
import { fingerprint, hostKeyProblem } from '../../src/host/ssh-host.ts'
import { parseSshTarget } from '../../src/net/options.ts'
import { prepareHostScript, remoteVni, vxlanFilter } from '../../src/net/ssh-backend.ts'
import { launchScript } from '../../src/qemu/ssh-runner.ts'
import { placeVms, QEMU_OVERHEAD_MIB } from '../../src/plan/placement.ts'

const tmp = mkdtempSync(join(tmpdir(), 'xc-unit-ssh-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('ssh host options', () => {
  test('user@address: IPv4, names, bracketed IPv6', () => {
    expect(parseSshTarget('root@10.0.0.2')).toEqual({ user: 'root', address: '10.0.0.2' })
    expect(parseSshTarget('root@lab-2.example')).toEqual({ user: 'root', address: 'lab-2.example' })
    expect(parseSshTarget('root@[fd00::2]')).toEqual({ user: 'root', address: 'fd00::2' })
    for (const bad of ['10.0.0.2', '@10.0.0.2', 'root@', 'root@a b', 'ro ot@x']) expect(parseSshTarget(bad), bad).toBeUndefined()
  })

  test('every problem of every host at once; all simulated or all ssh', () => {
    const { problems } = checkOptions({
      network: 'bridge', nvm: 2,
      hosts: { a: { ssh: 'root@10.0.0.2', port: 70000, dir: 'rel/dir', underlay: 'x', vms: [1], colour: 'red' }, B: { ssh: 'root@10.0.0.3', vms: [1] } } as never,
    })
    const all = problems.join('\n')
    expect(all).toMatch(/hosts.a.port` to be a TCP port/)
    expect(all).toMatch(/hosts.a.dir` to be an absolute path/)
    expect(all).toMatch(/hosts.a.underlay` to be the host's IPv4 address/)
    expect(all).toMatch(/Unknown option `hosts.a.colour`/)
    expect(all).toMatch(/host names of 1-8 lower-case/)
    expect(all).toMatch(/vm-001 is on two hosts: a and B/)
    expect(checkOptions({ network: 'bridge', hosts: { a: [1], b: { ssh: 'root@x' } } as never }).problems.join('\n')).toMatch(/all simulated hosts .* or all ssh hosts/)
    expect(checkOptions({ network: 'bridge', snapshot: true, hosts: { a: { ssh: 'root@x' } } }).problems.join('\n')).toMatch(/snapshot` does not combine with ssh `hosts`/)
  })

  test('one ssh host is a cluster; the spec keeps how to reach it, with defaults', () => {
    const { spec, problems } = checkOptions({ network: 'bridge', hosts: { lab: { ssh: 'root@10.0.0.2' } } })
    expect(problems).toEqual([])
    expect(spec.sshHosts).toEqual({ lab: { user: 'root', address: '10.0.0.2', port: 22, dir: '/var/tmp/xcluster' } })
    expect(spec.hosts).toEqual({ lab: [] })
  })
})

describe('placement', () => {
  const vm = (num: number, mem = 256): { num: number; mem: number } => ({ num, mem })

  test('given VMs stay; the others go to the host with the fewest VMs per core', () => {
    const { placement, problems } = placeVms([vm(1), vm(2), vm(3), vm(4), vm(5), vm(201)], [
      { name: 'a', cores: 2, memMiB: 8000, fixed: [201] },
      { name: 'b', cores: 4, memMiB: 8000, fixed: [] },
    ])
    expect(problems).toEqual([])
    // In number order: b (4 cores, none yet) takes 1-3; at vm-004 both would have one VM per core, and the tie goes to a, named first; then b.
    expect(placement).toEqual({ a: [4, 201], b: [1, 2, 3, 5] })
  })

  test('memory: a host without room for a VM gets none; no room anywhere is a problem naming the VM', () => {
    const need = 256 + QEMU_OVERHEAD_MIB
    const { placement } = placeVms([vm(1), vm(2), vm(3)], [
      { name: 'a', cores: 16, memMiB: need, fixed: [] },
      { name: 'b', cores: 1, memMiB: 10 * need, fixed: [] },
    ])
    expect(placement).toEqual({ a: [1], b: [2, 3] })
    const r = placeVms([vm(1), vm(2, 4096)], [{ name: 'a', cores: 1, memMiB: 1000, fixed: [] }])
    expect(r.problems).toEqual([`no host has ${4096 + QEMU_OVERHEAD_MIB} MiB of memory left for vm-002: a ${1000 - need} MiB`])
    expect(placeVms([vm(1, 4096)], [{ name: 'a', cores: 1, memMiB: 1000, fixed: [1] }]).problems[0]).toMatch(/host a has 1000 MiB of memory available; the VMs given to it need/)
  })
})

describe('the host probe', () => {
  test('facts, and every problem with what to install', () => {
    expect(readProbe('uid 0\ncores 8\nmem 12000\naddr 10.0.0.2\n', 'auto')).toEqual({ facts: { cores: 8, memMiB: 12000, underlay: '10.0.0.2', kvm: false }, problems: [] })
    expect(readProbe('uid 0\ncores 8\nmem 12000\naddr 10.0.0.2\nkvm 1\n', 'auto', '10.9.9.9').facts).toEqual({ cores: 8, memMiB: 12000, underlay: '10.9.9.9', kvm: true })
    const { facts, problems } = readProbe('uid 1000\nmissing socat\nmissing /usr/share/qemu/qboot.rom\ncores 8\nmem 12000\naddr \n', 'kvm')
    expect(facts).toBeUndefined()
    expect(problems).toEqual([
      expect.stringMatching(/not root there \(uid 1000\)/),
      'it lacks socat, /usr/share/qemu/qboot.rom: apt-get install socat qemu-system-data',
      'accel: kvm, but /dev/kvm cannot be opened there',
      expect.stringMatching(/address on the way from here is unknown/),
    ])
  })

  test('what a host says is checked before it is used: an address that is not one, numbers that are not numbers', () => {
    const lie = readProbe('uid 0\ncores 8\nmem 12000\naddr 10.0.0.9;touch${IFS}/tmp/x\n', 'auto')
    expect(lie.facts).toBeUndefined()
    expect(lie.problems).toEqual([expect.stringMatching(/is not an IP address: "10\.0\.0\.9;touch\$\{IFS\}\/tmp\/x"/)])
    expect(readProbe('uid 0\ncores 8;x\nmem 12000\naddr 10.0.0.2\n', 'auto').problems).toEqual([expect.stringMatching(/core count is not a number/)])
    // Given an underlay, the host's own word is not needed.
    expect(readProbe('uid 0\ncores 8\nmem 12000\naddr nonsense\n', 'auto', '10.9.9.9').facts?.underlay).toBe('10.9.9.9')
    expect(readProbe('uid 0\ncores 8\nmem 12000\naddr fd00::2\n', 'auto').facts?.underlay).toBe('fd00::2')
  })

  test('peer addresses go into the MTU script quoted', () => {
    expect(mtuScript(['10.0.0.2', "a'b"])).toContain(`a='a'\\''b'; dev=$(ip -o route get "$a"`)
  })
})

describe('known_hosts', () => {
  // A key blob as ssh sends it: string "ssh-ed25519", string key.
  const blob = (type = 'ssh-ed25519'): Buffer => {
    const t = Buffer.from(type)
    const k = randomBytes(32)
    const len = (n: number): Buffer => Buffer.from([0, 0, 0, n])
    return Buffer.concat([len(t.length), t, len(k.length), k])
  }
  const target = { name: 'a', user: 'root', address: '10.0.0.2', port: 22 }

  test('a plain, a wildcard, a [host]:port and a hashed entry are known', () => {
    const key = blob()
    const line = (host: string): string => `${host} ssh-ed25519 ${key.toString('base64')}\n`
    const salt = randomBytes(20)
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.0.0.2]:2222').digest('base64')}`
    const f = join(tmp, 'known')
    for (const [host, port] of [['10.0.0.2', 22], ['10.0.0.*', 22], ['other,10.0.0.2', 22], ['[10.0.0.2]:2222', 2222], [hashed, 2222]] as const) {
      writeFileSync(f, `# comment\n${line(host)}`)
      expect(hostKeyProblem({ ...target, port, knownHosts: f }, key), host).toBeUndefined()
    }
    writeFileSync(f, line('!10.0.0.2,10.0.0.*'))
    expect(hostKeyProblem({ ...target, knownHosts: f }, key)).toMatch(/is not in/)
    writeFileSync(f, line('10.0.0.2'))
    expect(hostKeyProblem({ ...target, port: 2222, knownHosts: f }, key)).toMatch(/is not in/)
  })

  test('an unknown key says how to add it; a changed key says which line; a revoked one says so', () => {
    const key = blob()
    const f = join(tmp, 'known2')
    writeFileSync(f, '')
    expect(hostKeyProblem({ ...target, knownHosts: f }, key)).toBe(
      `the host key of root@10.0.0.2 (ssh-ed25519 ${fingerprint(key)}) is not in ${f}: check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and add it, e.g. ssh-keyscan -p 22 10.0.0.2 >> ${f}`,
    )
    writeFileSync(f, `10.0.0.2 ssh-ed25519 ${blob().toString('base64')}\n`)
    expect(hostKeyProblem({ ...target, knownHosts: f }, key)).toMatch(new RegExp(`is not the one in ${f}:1: if the host was reinstalled, remove that line`))
    // A key of another type for the host is not a change: the host may have several.
    writeFileSync(f, `10.0.0.2 ssh-rsa ${blob('ssh-rsa').toString('base64')}\n`)
    expect(hostKeyProblem({ ...target, knownHosts: f }, key)).toMatch(/is not in/)
    writeFileSync(f, `@revoked 10.0.0.2 ssh-ed25519 ${key.toString('base64')}\n10.0.0.2 ssh-ed25519 ${key.toString('base64')}\n`)
    expect(hostKeyProblem({ ...target, knownHosts: f }, key)).toMatch(/marked @revoked/)
    // Revoked after a plain line that has it: still refused.
    writeFileSync(f, `10.0.0.2 ssh-ed25519 ${key.toString('base64')}\n@revoked 10.0.0.2 ssh-ed25519 ${key.toString('base64')}\n`)
    expect(hostKeyProblem({ ...target, knownHosts: f }, key)).toMatch(/marked @revoked in .*:2/)
  })
})

describe('scripts run on a host', () => {
  const rec = { name: 'b', user: 'root', address: 'x', port: 22, dir: '/var/tmp/xcluster/run/0123abcd-b', netns: 'xc-0123abcd-b', links: ['xc0123abcdv0'] }

  test('cleanup only ever removes a cluster directory', () => {
    expect(isClusterRunDir(rec.dir)).toBe(true)
    for (const bad of ['/', '/var/tmp/xcluster', '/var/tmp/xcluster/run', '/x/run/../etc-b', '/x/run/0123abcd-b/..', 'rel/run/0123abcd-b']) expect(isClusterRunDir(bad), bad).toBe(false)
    expect(() => remoteCleanupScript({ ...rec, dir: '/etc' })).toThrow(/refusing to clean \/etc/)
    expect(remoteCleanupScript(rec)).toContain(`d='${rec.dir}'; ns='xc-0123abcd-b'`)
  })

  test('QEMU runs in the namespace and ends with the session\'s stdin; its argv is quoted', () => {
    const s = launchScript('xc-1-a', ['qemu-system-x86_64', '-append', "a b'c"], '/d/run/1-a')
    expect(s).toContain(`ip netns exec 'xc-1-a' 'qemu-system-x86_64' '-append' 'a b'\\''c' </dev/null 3<&- &`)
    expect(s).toMatch(/cat <&3 >\/dev\/null 2>&1; .* && kill -KILL \$q \) >\/dev\/null 2>&1 &/)
  })

  test('a host\'s part of the network: namespace, bridges (the host side on the first host only), VXLAN made in the host\'s namespace and moved, flooding to each peer', () => {
    const nic = (net: number, vm: number): object => ({ net, mac: `00:00:00:01:0${net}:0${vm}` })
    const plan = {
      id: '0123abcd', name: 'x', nets: [0, 1], hosts: ['a', 'b', 'c'],
      vms: [{ name: 'vm-001', host: 'a', nics: [nic(0, 1), nic(1, 1)] }, { name: 'vm-002', host: 'b', nics: [nic(0, 2), nic(1, 2)] }],
    } as unknown as Parameters<typeof prepareHostScript>[0]
    const base = '/var/lib/xcluster'
    const runA = { ...rec, name: 'a', netns: 'xc-0123abcd-a', dir: `${base}/run/0123abcd-a` }
    const peers = [{ name: 'b', addr: '10.0.0.2' }, { name: 'c', addr: '10.0.0.3' }]
    const first = prepareHostScript(plan, 0, runA, base, '10.0.0.1', peers)
    // The directory is made and checked component by component, the cluster's own under run/.
    expect(first).toContain("xc_dir '/var' 0\nxc_dir '/var/lib' 0\nxc_dir '/var/lib/xcluster' 1\nxc_dir '/var/lib/xcluster/cache' 1\nxc_dir '/var/lib/xcluster/run' 1\nxc_dir '/var/lib/xcluster/run/0123abcd-a' 1")
    expect(first).toContain("ip netns add 'xc-0123abcd-a'")
    expect(first).toContain('addr add 192.168.0.250/24 dev xcbr0')
    expect(first).toContain(`ip link add xc0123abcdv1 type vxlan id ${remoteVni('0123abcd', 1)} dstport 4789 local '10.0.0.1' nolearning\nip link set xc0123abcdv1 netns 'xc-0123abcd-a'`)
    expect(first).toContain('fdb append 00:00:00:00:00:00 dev xc0123abcdv0 dst 10.0.0.2\nfdb append 00:00:00:00:00:00 dev xc0123abcdv0 dst 10.0.0.3')
    // Learning is off: vm-002's MACs point to host b; vm-001 is a's own.
    expect(first).toContain('fdb replace 00:00:00:01:01:02 dev xc0123abcdv1 dst 10.0.0.2 self permanent')
    expect(first).not.toContain('00:00:00:01:01:01')
    // Only the peers may send the cluster's VNIs.
    expect(first).toContain(`udp dport 4789 @th,96,16 0x${(remoteVni('0123abcd', 0) >> 8).toString(16)} ip saddr != { 10.0.0.2, 10.0.0.3 } counter drop`)
    expect(first).toContain("find '/var/lib/xcluster/cache' -maxdepth 1 -name '*.tmp' -mmin +60 -delete")
    const second = prepareHostScript(plan, 1, { ...rec, name: 'b' }, base, '10.0.0.2', [{ name: 'a', addr: '10.0.0.1' }, { name: 'c', addr: '10.0.0.3' }])
    expect(second).not.toContain('192.168.0.250')
    expect(second).toContain('fdb replace 00:00:00:01:00:01 dev xc0123abcdv0 dst 10.0.0.1 self permanent')
    // One host alone: no VXLAN, no filter.
    const alone = prepareHostScript(plan, 0, rec, base, '10.0.0.1', [])
    expect(alone).not.toContain('vxlan')
    expect(alone).not.toContain('nft')
  })

  test('the VXLAN filter: IPv4 and IPv6 peers each in their family; a family with no peer drops all', () => {
    const f = vxlanFilter('0123abcd', ['10.0.0.2', 'fd00::3'])
    expect(f).toContain('meta nfproto ipv4 udp dport 4789 @th,96,16 0x133 ip saddr != { 10.0.0.2 } counter drop')
    expect(f).toContain('meta nfproto ipv6 udp dport 4789 @th,96,16 0x133 ip6 saddr != { fd00::3 } counter drop')
    expect(vxlanFilter('0123abcd', ['10.0.0.2'])).toContain('meta nfproto ipv6 udp dport 4789 @th,96,16 0x133 counter drop')
  })

  test('VNIs: 256 per cluster, within 24 bits', () => {
    expect(remoteVni('00000000', 0)).toBe(4096)
    expect(remoteVni('00010000', 5) - remoteVni('00000000', 5)).toBe(256)
    expect(remoteVni('ffffffff', 254)).toBeLessThan(2 ** 24)
  })
})
