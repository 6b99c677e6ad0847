import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { bzImagePayload, extractPvhKernel, hasPvhNote } from '../../src/image/kernel-elf.ts'
import { stripModuleSignature } from '../../src/image/modules.ts'

/** A minimal ELF64 with one PT_NOTE segment holding one note. */
function elfWithNote(name: string, type: number): Buffer {
  const nameBytes = Buffer.from(name + '\0', 'latin1')
  const namePad = Math.ceil(nameBytes.length / 4) * 4
  const note = Buffer.alloc(12 + namePad + 4)
  note.writeUInt32LE(nameBytes.length, 0)
  note.writeUInt32LE(4, 4)
  note.writeUInt32LE(type, 8)
  nameBytes.copy(note, 12)
  const elf = Buffer.alloc(64 + 56 + note.length)
  elf.writeUInt32BE(0x7f454c46, 0)
  elf[4] = 2 // ELFCLASS64
  elf.writeBigUInt64LE(64n, 0x20) // e_phoff
  elf.writeUInt16LE(56, 0x36) // e_phentsize
  elf.writeUInt16LE(1, 0x38) // e_phnum
  elf.writeUInt32LE(4, 64) // PT_NOTE
  elf.writeBigUInt64LE(BigInt(64 + 56), 64 + 8) // p_offset
  elf.writeBigUInt64LE(BigInt(note.length), 64 + 32) // p_filesz
  note.copy(elf, 64 + 56)
  return elf
}

/** A bzImage-shaped buffer: setup sectors, the header fields the harness reads, then the payload and its size. */
function bzImage(payload: Buffer, version = 0x20f): Buffer {
  const setupSects = 4
  const offset = 0x100
  const withSize = Buffer.concat([payload, Buffer.from([0, 0, 0, 0])])
  const img = Buffer.alloc((setupSects + 1) * 512 + offset + withSize.length)
  img[0x1f1] = setupSects
  img.write('HdrS', 0x202, 'latin1')
  img.writeUInt16LE(version, 0x206)
  img.writeUInt32LE(offset, 0x248)
  img.writeUInt32LE(withSize.length, 0x24c)
  withSize.copy(img, (setupSects + 1) * 512 + offset)
  return img
}

describe('hasPvhNote', () => {
  it('finds the Xen PHYS32_ENTRY note (type 18) and nothing else', () => {
    expect(hasPvhNote(elfWithNote('Xen', 18))).toBe(true)
    expect(hasPvhNote(elfWithNote('Xen', 6))).toBe(false)
    expect(hasPvhNote(elfWithNote('GNU', 18))).toBe(false)
    expect(hasPvhNote(Buffer.from('not an elf at all, just text, long enough to have a header of 64 bytes ...'))).toBe(false)
  })
})

describe('bzImagePayload / extractPvhKernel', () => {
  it('finds a gzip payload by the header and unpacks a PVH vmlinux from it', async () => {
    const elf = elfWithNote('Xen', 18)
    const img = bzImage(gzipSync(elf))
    expect(bzImagePayload(img)?.format).toBe('gzip')
    const r = await extractPvhKernel(img)
    expect('elf' in r && r.elf.equals(elf)).toBe(true)
  })

  it('says why when there is no PVH kernel to boot', async () => {
    expect(await extractPvhKernel(Buffer.alloc(4096))).toEqual({ reason: 'not a bzImage of boot protocol 2.08 or later' })
    expect(await extractPvhKernel(bzImage(gzipSync(elfWithNote('Xen', 18)), 0x207))).toEqual({ reason: 'not a bzImage of boot protocol 2.08 or later' })
    expect(await extractPvhKernel(bzImage(Buffer.from('plain bytes')))).toEqual({ reason: 'its payload is in a compression this harness does not unpack' })
    expect(await extractPvhKernel(bzImage(gzipSync(elfWithNote('Xen', 6))))).toEqual({ reason: 'its vmlinux has no PVH entry note (CONFIG_PVH is off)' })
  })
})

describe('stripModuleSignature', () => {
  it('cuts the appended signature, its descriptor and the magic', () => {
    const body = Buffer.from('\x7fELF module body')
    const sig = Buffer.alloc(40, 0xab)
    const desc = Buffer.alloc(12)
    desc.writeUInt32BE(sig.length, 8)
    const signed = Buffer.concat([body, sig, desc, Buffer.from('~Module signature appended~\n')])
    expect(stripModuleSignature(signed).equals(body)).toBe(true)
  })

  it('leaves an unsigned module as it is', () => {
    const ko = Buffer.from('\x7fELF unsigned')
    expect(stripModuleSignature(ko)).toBe(ko)
  })
})
