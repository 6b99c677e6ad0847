// A tiny static x86-64 program for the guest, xc-reseed: it reads up to 64
// bytes of host randomness on stdin, adds them to the kernel's pool as
// credited entropy (ioctl RNDADDENTROPY) and has the CRNG reseed from the
// pool at once (ioctl RNDRESEEDCRNG). After a VM is restored from a snapshot
// the harness pipes host bytes into it, so that two VMs restored from one
// snapshot do not draw the same random bytes (and a CRNG that was not yet
// initialised at the save is initialised now). Busybox has no applet for
// these ioctls, the cloud kernel has no vmgenid driver (which would reseed
// on its own), and the guest has no compiler: the machine code is written
// out here, instruction by instruction, with a two-pass label fixup.
// Exit status 0, or the errno of the call that failed (5, EIO: no input).
const RNDADDENTROPY = 0x40085203 // _IOW('R', 0x03, int[2])
const RNDRESEEDCRNG = 0x5207 // _IO('R', 0x07)
const BASE = 0x400000
const HEADERS = 64 + 56
const INPUT = 64

type Item = { bytes: number[]; fix?: { label: string; at: number; kind: 'rel8' | 'rel32' } } | { label: string }

const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]
const op = (bytes: number[], fix?: { label: string; at: number; kind: 'rel8' | 'rel32' }): Item => ({ bytes, fix })

const program: Item[] = [
  op([0x31, 0xff]), //                                   xor edi, edi            ; stdin
  op([0x48, 0x8d, 0x35, 0, 0, 0, 0], { label: 'data', at: 3, kind: 'rel32' }), // lea rsi, [rip+data]
  op([0x48, 0x83, 0xc6, 0x08]), //                       add rsi, 8              ; after the header
  op([0xba, ...u32(INPUT)]), //                          mov edx, 64
  op([0x31, 0xc0]), //                                   xor eax, eax            ; read
  op([0x0f, 0x05]), //                                   syscall
  op([0x85, 0xc0]), //                                   test eax, eax
  op([0x7f, 0], { label: 'got', at: 1, kind: 'rel8' }), // jg got
  op([0xb8, ...u32(-5 >>> 0)]), //                       mov eax, -EIO
  op([0xeb, 0], { label: 'exit', at: 1, kind: 'rel8' }), // jmp exit
  { label: 'got' },
  op([0x48, 0x8d, 0x1d, 0, 0, 0, 0], { label: 'data', at: 3, kind: 'rel32' }), // lea rbx, [rip+data]
  op([0x89, 0x43, 0x04]), //                             mov [rbx+4], eax        ; buf_size
  op([0xc1, 0xe0, 0x03]), //                             shl eax, 3
  op([0x89, 0x03]), //                                   mov [rbx], eax          ; entropy_count, bits
  op([0x48, 0x8d, 0x3d, 0, 0, 0, 0], { label: 'path', at: 3, kind: 'rel32' }), // lea rdi, [rip+path]
  op([0x31, 0xf6]), //                                   xor esi, esi            ; O_RDONLY
  op([0xb8, ...u32(2)]), //                              mov eax, 2              ; open
  op([0x0f, 0x05]), //                                   syscall
  op([0x85, 0xc0]), //                                   test eax, eax
  op([0x78, 0], { label: 'exit', at: 1, kind: 'rel8' }), // js exit
  op([0x41, 0x89, 0xc4]), //                             mov r12d, eax           ; the fd
  op([0x44, 0x89, 0xe7]), //                             mov edi, r12d
  op([0xbe, ...u32(RNDADDENTROPY)]), //                  mov esi, RNDADDENTROPY
  op([0x48, 0x89, 0xda]), //                             mov rdx, rbx
  op([0xb8, ...u32(16)]), //                             mov eax, 16             ; ioctl
  op([0x0f, 0x05]), //                                   syscall
  op([0x85, 0xc0]), //                                   test eax, eax
  op([0x78, 0], { label: 'exit', at: 1, kind: 'rel8' }), // js exit
  op([0x44, 0x89, 0xe7]), //                             mov edi, r12d
  op([0xbe, ...u32(RNDRESEEDCRNG)]), //                  mov esi, RNDRESEEDCRNG
  op([0x31, 0xd2]), //                                   xor edx, edx
  op([0xb8, ...u32(16)]), //                             mov eax, 16             ; ioctl
  op([0x0f, 0x05]), //                                   syscall
  { label: 'exit' },
  op([0x89, 0xc7]), //                                   mov edi, eax            ; 0 or -errno
  op([0xf7, 0xdf]), //                                   neg edi
  op([0xb8, ...u32(60)]), //                             mov eax, 60             ; exit
  op([0x0f, 0x05]), //                                   syscall
  { label: 'path' },
  op([...Buffer.from('/dev/urandom\0')]),
  { label: 'data' }, // the rand_pool_info header and the input, past the file's end (memsz > filesz)
]

/** The code with its labels resolved, and the offset of `data` (where the file's bytes end). */
function assemble(): { code: Buffer; data: number } {
  const labels = new Map<string, number>()
  let at = 0
  for (const it of program) {
    if ('label' in it) labels.set(it.label, at)
    else at += it.bytes.length
  }
  const out: number[] = []
  for (const it of program) {
    if ('label' in it) continue
    const bytes = [...it.bytes]
    if (it.fix) {
      const rel = labels.get(it.fix.label)! - (out.length + bytes.length)
      if (it.fix.kind === 'rel8') {
        if (rel < -128 || rel > 127) throw new Error(`reseed: jump to ${it.fix.label} out of range`)
        bytes[it.fix.at] = rel & 0xff
      } else bytes.splice(it.fix.at, 4, ...u32(rel >>> 0))
    }
    out.push(...bytes)
  }
  return { code: Buffer.from(out), data: labels.get('data')! }
}

/** The ELF file: header, one PT_LOAD program header (read, write, execute; the input area beyond the file), the code. */
export function reseedElf(): Buffer {
  const { code, data } = assemble()
  const size = HEADERS + code.length
  const h = Buffer.alloc(HEADERS)
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(h, 0) // ELF, 64-bit, little-endian, SysV
  h.writeUInt16LE(2, 16) // ET_EXEC
  h.writeUInt16LE(0x3e, 18) // x86-64
  h.writeUInt32LE(1, 20) // EV_CURRENT
  h.writeBigUInt64LE(BigInt(BASE + HEADERS), 24) // entry
  h.writeBigUInt64LE(64n, 32) // program headers at 64
  h.writeUInt16LE(64, 52) // header size
  h.writeUInt16LE(56, 54) // program header size
  h.writeUInt16LE(1, 56) // one program header
  h.writeUInt32LE(1, 64) // PT_LOAD
  h.writeUInt32LE(7, 68) // PF_R | PF_W | PF_X
  h.writeBigUInt64LE(0n, 72) // from file offset 0
  h.writeBigUInt64LE(BigInt(BASE), 80) // vaddr
  h.writeBigUInt64LE(BigInt(BASE), 88) // paddr
  h.writeBigUInt64LE(BigInt(size), 96) // filesz
  h.writeBigUInt64LE(BigInt(HEADERS + data + 8 + INPUT), 104) // memsz: the header and the input after the code
  h.writeBigUInt64LE(0x1000n, 112) // align
  return Buffer.concat([h, code])
}
