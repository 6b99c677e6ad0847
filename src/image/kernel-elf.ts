// The uncompressed kernel (vmlinux) inside a bzImage, for PVH direct boot.
//
// Under TCG the guest decompresses a bzImage itself: about 0.1-0.25 s of
// emulated work per boot for Debian's LZ4 cloud kernel. QEMU boots an ELF
// vmlinux with a PVH entry note directly, with no decompressor and no
// real-mode setup. The payload's place is in the bzImage header (boot
// protocol 2.08+); its format is found by magic.
import { gunzipSync } from 'node:zlib'
import { execa } from 'execa'

const XEN_ELFNOTE_PHYS32_ENTRY = 18

export type PayloadFormat = 'gzip' | 'lz4' | 'zstd' | 'xz' | 'unknown'

/** The compressed kernel inside a bzImage, or undefined when `img` is not one. */
export function bzImagePayload(img: Buffer): { data: Buffer; format: PayloadFormat } | undefined {
  if (img.length < 0x260 || img.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined
  const version = img.readUInt16LE(0x206)
  if (version < 0x208) return undefined
  const setupSects = img[0x1f1] || 4
  const offset = (setupSects + 1) * 512 + img.readUInt32LE(0x248)
  const length = img.readUInt32LE(0x24c)
  if (offset + length > img.length) return undefined
  const data = img.subarray(offset, offset + length)
  const m = (bytes: number[]): boolean => bytes.every((b, i) => data[i] === b)
  const format: PayloadFormat = m([0x1f, 0x8b])
    ? 'gzip'
    : m([0x02, 0x21, 0x4c, 0x18])
      ? 'lz4'
      : m([0x28, 0xb5, 0x2f, 0xfd])
        ? 'zstd'
        : m([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])
          ? 'xz'
          : 'unknown'
  return { data, format }
}

/** True if `elf` is an x86-64 ELF with a PVH entry (a Xen PHYS32_ENTRY note). */
export function hasPvhNote(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false
  const phoff = Number(elf.readBigUInt64LE(0x20))
  const phentsize = elf.readUInt16LE(0x36)
  const phnum = elf.readUInt16LE(0x38)
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize
    if (elf.readUInt32LE(ph) !== 4) continue // PT_NOTE
    let at = Number(elf.readBigUInt64LE(ph + 8))
    const end = at + Number(elf.readBigUInt64LE(ph + 32))
    while (at + 12 <= end) {
      const namesz = elf.readUInt32LE(at)
      const descsz = elf.readUInt32LE(at + 4)
      const type = elf.readUInt32LE(at + 8)
      const name = elf.toString('latin1', at + 12, at + 12 + Math.max(0, namesz - 1))
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true
      at += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4
    }
  }
  return false
}

async function decompress(data: Buffer, format: PayloadFormat): Promise<Buffer | undefined> {
  // The kernel build appends the uncompressed size (4 bytes) after the stream.
  const stream = data.subarray(0, data.length - 4)
  if (format === 'gzip') return gunzipSync(stream)
  const tool = { lz4: ['lz4', '-dc'], zstd: ['zstd', '-dc'], xz: ['xz', '-dc'] }[format as 'lz4' | 'zstd' | 'xz']
  if (!tool) return undefined
  const r = await execa(tool[0], tool.slice(1), { input: stream, encoding: 'buffer', reject: false, stripFinalNewline: false, maxBuffer: 1 << 30 })
  const out = Buffer.from(r.stdout as Uint8Array)
  return out.length > 0 ? out : undefined
}

/**
 * The PVH-bootable vmlinux inside `bzImage`, or a reason why there is none
 * (then the bzImage is booted as it is).
 */
export async function extractPvhKernel(bzImage: Buffer): Promise<{ elf: Buffer } | { reason: string }> {
  const payload = bzImagePayload(bzImage)
  if (!payload) return { reason: 'not a bzImage of boot protocol 2.08 or later' }
  if (payload.format === 'unknown') return { reason: 'its payload is in a compression this harness does not unpack' }
  let elf: Buffer | undefined
  try {
    elf = await decompress(payload.data, payload.format)
  } catch (e) {
    return { reason: `unpacking its ${payload.format} payload failed: ${(e as Error).message}` }
  }
  if (!elf) return { reason: `unpacking its ${payload.format} payload gave nothing (is the ${payload.format} program installed?)` }
  if (!hasPvhNote(elf)) return { reason: 'its vmlinux has no PVH entry note (CONFIG_PVH is off)' }
  return { elf }
}
