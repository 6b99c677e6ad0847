// Pure parts of snapshots and rootless bridge mode: the option checks, the
// argv that enters a rootless namespace, and the reseed program's ELF.
import { describe, expect, it } from 'vitest'
import { checkOptions } from '../../src/cluster/options.ts'
import { nsenterArgv, unshareArgv } from '../../src/host/rootless.ts'
import { reseedElf } from '../../src/image/reseed-elf.ts'

describe('snapshot and rootless options', () => {
  it('take booleans only, and snapshot refuses what a key cannot see', () => {
    expect(checkOptions({ snapshot: 'yes' as never, rootless: 1 as never }).problems).toEqual([
      'Expected `snapshot` to be true or false, got `yes`',
      'Expected `rootless` to be true or false, got `1`',
    ])
    expect(checkOptions({ snapshot: true, start: async () => {} }).problems).toEqual([
      '`snapshot` does not combine with a custom `start`: what it does is code, which the snapshot key cannot see',
    ])
    expect(checkOptions({ snapshot: true, network: { base: 'user', netSetup: '/x.sh' } }).problems).toHaveLength(1)
    expect(checkOptions({ snapshot: true, rootless: true, network: 'bridge' })).toMatchObject({ problems: [], spec: { snapshot: true, rootless: true } })
  })
})

describe('rootless argv', () => {
  it('enters the user and network namespaces of a pid as this user, or makes new ones', () => {
    expect(nsenterArgv(42, ['ip', 'link'])).toEqual(['nsenter', '-t', '42', '--user', '--net', '--preserve-credentials', '--', 'ip', 'link'])
    expect(nsenterArgv(42, ['unshare', '--net'], false)).toEqual(['nsenter', '-t', '42', '--user', '--preserve-credentials', '--', 'unshare', '--net'])
    expect(unshareArgv(['node', 'relay.mjs'])).toEqual(['unshare', '--user', '--map-root-user', '--net', '--', 'node', 'relay.mjs'])
  })
})

describe('xc-reseed', () => {
  it('is a static x86-64 ELF whose entry is in its one read-write-execute segment, which reaches past the file for its input', () => {
    const elf = reseedElf()
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF')
    expect(elf.readUInt16LE(18)).toBe(0x3e)
    const entry = Number(elf.readBigUInt64LE(24))
    const vaddr = Number(elf.readBigUInt64LE(80))
    const filesz = Number(elf.readBigUInt64LE(96))
    const memsz = Number(elf.readBigUInt64LE(104))
    expect(filesz).toBe(elf.length)
    expect(entry).toBeGreaterThan(vaddr)
    expect(entry).toBeLessThan(vaddr + filesz)
    expect(memsz - filesz).toBeGreaterThanOrEqual(8 + 64)
    expect(elf.includes(Buffer.from('/dev/urandom\0'))).toBe(true)
  })
})
