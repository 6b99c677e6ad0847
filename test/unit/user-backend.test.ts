import { describe, expect, it } from 'vitest'
import { planOf } from '../../src/cluster/plan-of.ts'
import { userNicArgs } from '../../src/net/user-backend.ts'
import type { ClusterOptions } from '../../src/cluster/options.ts'
import type { ClusterPlan } from '../../src/plan/plan.ts'
import { qemuArgs } from '../../src/qemu/qemu-args.ts'

const plan = (opts: ClusterOptions, block = 20): ClusterPlan => planOf(opts, { id: 'u1', block })

describe('userNicArgs', () => {
  const p = plan({ nvm: 1, nrouters: 1 })
  const [vm1, vm201] = p.vms

  it('makes net 0 a restricted user network with forwards on 127.0.0.1 only', () => {
    expect(userNicArgs(p, vm1, vm1.nics[0])).toEqual([
      '-netdev',
      'user,id=n0,net=192.168.0.0/24,host=192.168.0.250,ipv6-net=1000::1:192.168.0.0/120,ipv6-host=1000::1:192.168.0.250,restrict=on,' +
        'hostfwd=tcp:127.0.0.1:20481-192.168.0.1:23,hostfwd=tcp:127.0.0.1:20737-192.168.0.1:22',
      '-device',
      'virtio-net-pci,netdev=n0,mac=00:00:00:01:00:01,romfile=',
    ])
    expect(userNicArgs(p, vm201, vm201.nics[0])[1]).toBe(
      'user,id=n0,net=192.168.0.0/24,host=192.168.0.250,ipv6-net=1000::1:192.168.0.0/120,ipv6-host=1000::1:192.168.0.250,restrict=on,' +
        'hostfwd=tcp:127.0.0.1:20681-192.168.0.201:23,hostfwd=tcp:127.0.0.1:20937-192.168.0.201:22',
    )
  })

  it('makes a point-to-point link unicast UDP between its two ends, on ports of the block past its multicast ones', () => {
    const l = plan({ nvm: 1, nrouters: 2, links: [[201, 202], [1, 201]] })
    const nic = (vm: number, net: number) => { const v = l.vms.find((x) => x.num === vm)!; return userNicArgs(l, v, v.nics.find((n) => n.net === net)!)[1] }
    // Block 20: ports 20480-21503; multicast from 20992; link i's two ends at 20992 + 256 + 2i and the next.
    expect(nic(201, 200)).toBe('socket,id=n200,udp=127.0.0.1:21249,localaddr=127.0.0.1:21248')
    expect(nic(202, 200)).toBe('socket,id=n200,udp=127.0.0.1:21248,localaddr=127.0.0.1:21249')
    expect(nic(1, 201)).toBe('socket,id=n201,udp=127.0.0.1:21251,localaddr=127.0.0.1:21250')
    expect(nic(201, 201)).toBe('socket,id=n201,udp=127.0.0.1:21250,localaddr=127.0.0.1:21251')
    // Other nets stay multicast.
    expect(nic(201, 1)).toBe('socket,id=n1,mcast=239.255.20.1:20993,localaddr=127.0.0.1')
  })

  it('makes nets >= 1 loopback multicast sockets of the block', () => {
    expect(userNicArgs(p, vm1, vm1.nics[1])).toEqual([
      '-netdev',
      'socket,id=n1,mcast=239.255.20.1:20993,localaddr=127.0.0.1',
      '-device',
      'virtio-net-pci,netdev=n1,mac=00:00:00:01:01:01,romfile=',
    ])
    expect(userNicArgs(p, vm201, vm201.nics[2])).toEqual([
      '-netdev',
      'socket,id=n2,mcast=239.255.20.2:20994,localaddr=127.0.0.1',
      '-device',
      'virtio-net-pci,netdev=n2,mac=00:00:00:01:02:c9,romfile=',
    ])
  })

  it('puts VMs on the same net into the same multicast group and port', () => {
    const a = userNicArgs(p, vm1, vm1.nics[1])[1]
    const b = userNicArgs(p, vm201, vm201.nics[1])[1]
    expect(a.replace('id=n1', '')).toBe(b.replace('id=n1', ''))
  })

  it('uses the custom prefix for the IPv6 of net 0', () => {
    const q = plan({ nvm: 1, nrouters: 0, prefix: 'fd00::5' }, 30)
    expect(userNicArgs(q, q.vms[0], q.vms[0].nics[0])[1]).toBe(
      'user,id=n0,net=192.168.0.0/24,host=192.168.0.250,ipv6-net=fd00::5:192.168.0.0/120,ipv6-host=fd00::5:192.168.0.250,restrict=on,' +
        'hostfwd=tcp:127.0.0.1:30721-192.168.0.1:23,hostfwd=tcp:127.0.0.1:30977-192.168.0.1:22',
    )
  })
})

describe('network safety: nothing binds outside 127.0.0.1', () => {
  // With two point-to-point links (unicast UDP), besides the multicast nets.
  const p = plan({ nvm: 4, nrouters: 2, ntesters: 2, links: [[201, 202], [1, 221]] })
  const argvs = p.vms.map((vm) =>
    qemuArgs({
      vm,
      accel: 'tcg',
      kernel: '/img/vmlinuz',
      initrd: '/img/initrd',
      files: { console: `/st/${vm.name}.log`, qmp: `/st/${vm.name}.qmp`, pidfile: `/st/${vm.name}.pid` },
      nicArgs: vm.nics.map((nic) => userNicArgs(p, vm, nic)),
      clusterTag: 'u1',
    }),
  )
  const all = argvs.flat()
  const netdevs = argvs.flatMap((argv) => argv.filter((_, i) => argv[i - 1] === '-netdev'))

  it('covers the whole cluster', () => {
    expect(p.vms.map((v) => v.num)).toEqual([1, 2, 3, 4, 201, 202, 221, 222])
    // 4 nodes x 2 nets, 2 routers x 3, 2 testers x 2, and the two ends of 2 links
    expect(netdevs.length).toBe(22)
    expect(netdevs.filter((n) => n.startsWith('user,')).length).toBe(8)
    expect(netdevs.filter((n) => n.startsWith('socket,')).length).toBe(14)
  })

  it('binds every host address (hostfwd, localaddr, listen, connect) to 127.0.0.1', () => {
    const bound: string[] = []
    const re = /hostfwd=(?:tcp|udp):([^:,]*):|localaddr=([^,:]*)|listen=([^,]*?):\d+|connect=([^,]*?):\d+|udp=([^,]*?):\d+/g
    for (const arg of all) for (const m of arg.matchAll(re)) bound.push(m.slice(1).find((x) => x !== undefined)!)
    expect(bound.length).toBe(8 * 2 + 10 + 4 * 2)
    expect(new Set(bound)).toEqual(new Set(['127.0.0.1']))
  })

  it('restricts every user network and forwards only to the guest telnet and ssh', () => {
    for (const n of netdevs.filter((x) => x.startsWith('user,'))) {
      const opts = n.split(',')
      expect(opts).toContain('restrict=on')
      expect(opts.filter((o) => o.startsWith('guestfwd'))).toEqual([])
      const fwds = opts.filter((o) => o.startsWith('hostfwd='))
      expect(fwds.length).toBe(2)
      for (const f of fwds) expect(f).toMatch(/^hostfwd=tcp:127\.0\.0\.1:\d+-192\.168\.0\.\d+:(23|22)$/)
    }
  })

  it('puts every socket net on an administratively scoped group over loopback, and every link on loopback UDP, nothing else', () => {
    for (const n of netdevs.filter((x) => x.startsWith('socket,'))) {
      expect(n).toMatch(/^socket,id=n\d+,(mcast=239\.255\.20\.\d+:\d+,localaddr=127\.0\.0\.1|udp=127\.0\.0\.1:\d+,localaddr=127\.0\.0\.1:\d+)$/)
    }
  })

  it('gives every VM distinct host ports', () => {
    const ports = all.flatMap((a) => [...a.matchAll(/hostfwd=tcp:127\.0\.0\.1:(\d+)-/g)].map((m) => Number(m[1])))
    expect(ports.length).toBe(16)
    expect(new Set(ports).size).toBe(16)
  })

  it('has no network listener of any other kind on the command line', () => {
    for (const arg of all) {
      expect(arg).not.toMatch(/0\.0\.0\.0|::\/0|\[::\]/)
      expect(arg).not.toMatch(/(^|,)(tcp|telnet|udp):/)
      expect(arg).not.toMatch(/hostfwd=(tcp|udp)::/)
    }
    for (const flag of ['-vnc', '-spice', '-gdb', '-s', '-monitor', '-incoming', '-chardev', '-net']) {
      expect(all).not.toContain(flag)
    }
    for (const argv of argvs) {
      expect(argv[argv.indexOf('-qmp') + 1]).toMatch(/^unix:/)
      expect(argv[argv.indexOf('-serial') + 1]).toMatch(/^file:/)
      expect(argv[argv.indexOf('-display') + 1]).toBe('none')
    }
  })
})
