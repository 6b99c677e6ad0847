import { describe, expect, it } from 'vitest'
import { allocationOf } from '../../src/host/port-block.ts'
import { checkOptions } from '../../src/cluster/options.ts'
import { planCluster } from '../../src/plan/plan.ts'
import { qemuArgs, type QemuArgsInput } from '../../src/qemu/qemu-args.ts'
import { nicDevice } from '../../src/net/backend.ts'

const { spec } = checkOptions({ nvm: 1, nrouters: 1, mem: 192, smpVm: { 201: 2 }, appendVm: { 201: 'xc.debug=1' } })
const plan = planCluster(spec, allocationOf('q1', 20))

function input(over: Partial<QemuArgsInput> = {}): QemuArgsInput {
  return {
    vm: plan.vms[0],
    accel: 'tcg',
    kernel: '/img/vmlinuz',
    initrd: '/st/initrd.cpio.gz',
    files: { console: '/st/vm-001.log', qmp: '/st/vm-001.qmp', pidfile: '/st/vm-001.pid' },
    nicArgs: [
      ['-netdev', 'user,id=n0', ...nicDevice('n0', '00:00:00:01:00:01')],
      ['-netdev', 'socket,id=n1', ...nicDevice('n1', '00:00:00:01:01:01')],
    ],
    clusterTag: 'q1',
    ...over,
  }
}

/** The value after `flag` in argv. */
const after = (argv: string[], flag: string): string => {
  const i = argv.indexOf(flag)
  expect(i, flag).toBeGreaterThanOrEqual(0)
  return argv[i + 1]
}

describe('nicDevice', () => {
  it('is a virtio NIC on the netdev, with the MAC and no option ROM', () => {
    expect(nicDevice('n3', '00:00:00:01:03:c9')).toEqual(['-device', 'virtio-net-pci,netdev=n3,mac=00:00:00:01:03:c9,romfile='])
  })
})

describe('qemuArgs', () => {
  it('builds the exact argv of a node under TCG', () => {
    expect(qemuArgs(input())).toEqual([
      '-name', 'vm-001',
      '-M', 'q35',
      '-accel', 'tcg',
      '-cpu', 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16',
      '-m', '192',
      '-smp', '1',
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-bios', '/usr/share/qemu/qboot.rom',
      '-kernel', '/img/vmlinuz',
      '-initrd', '/st/initrd.cpio.gz',
      '-append', 'console=ttyS0 quiet panic=-1 no_timer_check cryptomgr.notests initcall_blacklist=crypto_kdf108_init,init_kprobe_trace xc.cluster=q1',
      '-serial', 'file:/st/vm-001.log',
      '-qmp', 'unix:/st/vm-001.qmp,server=on,wait=off',
      '-pidfile', '/st/vm-001.pid',
      '-netdev', 'user,id=n0',
      '-device', 'virtio-net-pci,netdev=n0,mac=00:00:00:01:00:01,romfile=',
      '-netdev', 'socket,id=n1',
      '-device', 'virtio-net-pci,netdev=n1,mac=00:00:00:01:01:01,romfile=',
    ])
  })

  it('is a flat array of strings', () => {
    const argv = qemuArgs(input())
    expect(argv.every((a) => typeof a === 'string')).toBe(true)
    expect(argv).toContain('-nodefaults')
  })

  it('uses the host CPU under KVM', () => {
    const argv = qemuArgs(input({ accel: 'kvm' }))
    expect(after(argv, '-accel')).toBe('kvm')
    expect(after(argv, '-cpu')).toBe('host')
  })

  it('takes memory, smp, name and extra kernel command line from the VM plan', () => {
    const argv = qemuArgs(input({ vm: plan.vms[1], clusterTag: 'tag-9' }))
    expect(after(argv, '-m')).toBe('192')
    expect(after(argv, '-smp')).toBe('2')
    expect(after(argv, '-name')).toBe('vm-201')
    expect(after(argv, '-append')).toBe('console=ttyS0 quiet panic=-1 no_timer_check cryptomgr.notests initcall_blacklist=crypto_kdf108_init,init_kprobe_trace xc.cluster=tag-9 xc.debug=1')
  })

  it('boots the kernel as packaged when told to (the stock baseline): no tuning, the CPU given', () => {
    const argv = qemuArgs(input({ bootTuning: [], cpu: 'max' }))
    expect(after(argv, '-append')).toBe('console=ttyS0 quiet panic=-1 no_timer_check xc.cluster=q1')
    expect(after(argv, '-cpu')).toBe('max')
  })

  it('caps the TCG translation cache with tbSize, and only under TCG', () => {
    expect(after(qemuArgs(input({ tbSize: 24 })), '-accel')).toBe('tcg,tb-size=24')
    expect(after(qemuArgs(input({ accel: 'kvm', tbSize: 24 })), '-accel')).toBe('kvm')
  })

  it('puts every NIC option after the fixed options, in NIC order', () => {
    const argv = qemuArgs(input())
    expect(argv.slice(-8)).toEqual(input().nicArgs.flat())
    const devices = argv.filter((_, i) => argv[i - 1] === '-device')
    expect(devices.length).toBe(2)
    for (const d of devices) expect(d.endsWith(',romfile=')).toBe(true)
  })

  it('has no NICs when given none (-nodefaults keeps QEMU from adding one)', () => {
    const argv = qemuArgs(input({ nicArgs: [] }))
    expect(argv).not.toContain('-netdev')
    expect(argv).not.toContain('-device')
    expect(argv.at(-1)).toBe('/st/vm-001.pid')
  })
})
