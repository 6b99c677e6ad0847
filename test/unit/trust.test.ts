// The pure parts of "no one gets in": the login's challenge and answer, the
// /proc/net/tcp reading behind the listener check, the rule for who may have
// changed a program root runs, the tar header check, the port lock directory.
import { describe, expect, test } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execaSync } from 'execa'
import { answerLine, findChallenge, loginAnswer, vmLoginKey } from '../../src/control/login.ts'
import { loopbackSocketInode } from '../../src/host/socket-owner.ts'
import { trustProblem } from '../../src/host/path-trust.ts'
import { looksLikeTar } from '../../src/cluster/preflight.ts'
import { lockDirProblem } from '../../src/host/port-block.ts'

describe('the login', () => {
  const nonce = '30b0b6f7-26a5-4be9-8551-697e5509f46e'
  test('a VM\'s key is its own: the same secret gives each VM another', () => {
    expect(vmLoginKey('s3cret', 'vm-001')).toMatch(/^[0-9a-f]{64}$/)
    expect(vmLoginKey('s3cret', 'vm-001')).not.toBe(vmLoginKey('s3cret', 'vm-002'))
    expect(vmLoginKey('s3cret', 'vm-001')).not.toBe(vmLoginKey('other', 'vm-001'))
  })

  test('the guest computes the same answer (busybox sha256sum of the same words)', () => {
    // What the boot script and the login script run in the guest, here with the host's busybox.
    const key = execaSync('busybox', ['sh', '-c', `printf 'xc-vm-key %s %s' vm-001 s3cret | sha256sum`]).stdout.split(' ')[0]
    expect(key).toBe(vmLoginKey('s3cret', 'vm-001'))
    const want = execaSync('busybox', ['sh', '-c', `printf '%s %s %s' ${key} vm-001 ${nonce} | sha256sum`]).stdout.split(' ')[0]
    expect(want).toBe(loginAnswer(key, 'vm-001', nonce))
  })

  test('a challenge is found whole, telnet negotiation and CR around it', () => {
    expect(findChallenge('\xff\xfd\x01\r\r\nxc-challenge: vm-001 ' + nonce.slice(0, 10))).toBeUndefined()
    const text = `\xff\xfd\x01\r\r\nxc-challenge: vm-001 ${nonce}\r\nrest`
    expect(findChallenge(text)).toEqual({ vm: 'vm-001', nonce, end: text.indexOf('rest') })
    expect(findChallenge(`xc-challenge: vm-001 not-a-nonce\n`)).toBeUndefined()
  })

  test('an answer goes only to the VM the client means: a challenge naming another gets none', () => {
    expect(answerLine('s3cret', 'vm-002', { vm: 'vm-001', nonce }, true)).toBeUndefined()
    const line = answerLine('s3cret', 'vm-002', { vm: 'vm-002', nonce }, true)!
    expect(line).toBe(`${loginAnswer(vmLoginKey('s3cret', 'vm-002'), 'vm-002', nonce)} ctl\n`)
    expect(line).not.toContain('s3cret')
    expect(answerLine('s3cret', 'vm-002', { vm: 'vm-002', nonce }, false)).toBe(line.replace(' ctl', ''))
  })
})

test('/proc/net/tcp: the accepting end of a loopback connection, by its two ports', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:2001 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:2001 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 20 4 30 10 -1',
    '   2: 0100007F:A000 0100007F:2001 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 20 4 30 10 -1',
    '   3: 0100007F:2001 0100007F:A001 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1',
  ].join('\n')
  expect(loopbackSocketInode(0x2001, 0xa000, table)).toBe(222)
  expect(loopbackSocketInode(0xa000, 0x2001, table)).toBe(333)
  // Not accepted yet: no inode.
  expect(loopbackSocketInode(0x2001, 0xa001, table)).toBe(0)
  expect(loopbackSocketInode(0x2001, 0xa002, table)).toBeUndefined()
})

describe('who may have changed a program that root runs', () => {
  const st = (uid: number, mode: number, dir = true, link = false): Parameters<typeof trustProblem>[1] => ({ uid, mode, isDirectory: () => dir, isSymbolicLink: () => link })
  test('root\'s or the runner\'s, written by no one else: trusted', () => {
    expect(trustProblem('/usr', st(0, 0o40755), 0, false)).toBeUndefined()
    expect(trustProblem('/home/a/ovl/tar', st(1000, 0o100755, false), 1000, true)).toBeUndefined()
  })
  test('another owner, or a mode that lets others write: not', () => {
    expect(trustProblem('/tmp/x', st(65534, 0o40755), 0, false)).toBe('/tmp/x belongs to uid 65534')
    expect(trustProblem('/srv/ovl/tar', st(0, 0o100775, false), 0, true)).toBe('/srv/ovl/tar is writable by others (mode 775)')
    // A sticky directory above is fine (others cannot replace what is not theirs); the overlay's own directory may not be one.
    expect(trustProblem('/tmp', st(0, 0o41777), 0, false)).toBeUndefined()
    expect(trustProblem('/tmp/ovl', st(0, 0o41777), 0, true)).toBe('/tmp/ovl is writable by others (mode 1777)')
    // A link is judged by its owner; where it leads is checked on its own.
    expect(trustProblem('/tmp/l', st(65534, 0o120777, false, true), 0, false)).toBe('/tmp/l belongs to uid 65534')
    expect(trustProblem('/var/run', st(0, 0o120777, false, true), 0, false)).toBeUndefined()
  })
})

test('a tar header: ustar, an old header whose checksum holds; not a text file, not a gzip, not too short', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xc-tar-'))
  try {
    const f = (name: string, data: Buffer | string): string => (writeFileSync(join(dir, name), data), join(dir, name))
    writeFileSync(join(dir, 'a'), 'hello\n')
    execaSync('tar', ['-cf', join(dir, 'ok.tar'), '-C', dir, 'a'])
    execaSync('tar', ['--format=v7', '-cf', join(dir, 'v7.tar'), '-C', dir, 'a'])
    expect(looksLikeTar(join(dir, 'ok.tar'))).toBe(true)
    expect(looksLikeTar(join(dir, 'v7.tar'))).toBe(true)
    expect(looksLikeTar(f('text.tar', 'this is not a tar archive\n'.repeat(40)))).toBe(false)
    expect(looksLikeTar(f('short.tar', 'x'))).toBe(false)
    expect(looksLikeTar(f('zeros.tar', Buffer.alloc(1024)))).toBe(false)
    execaSync('gzip', ['-k', join(dir, 'ok.tar')])
    expect(looksLikeTar(join(dir, 'ok.tar.gz'))).toBe(false)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the port lock directory: root takes over another user\'s, a user cannot; sticky 1777 or its owner fixes it', () => {
  expect(lockDirProblem({ uid: 1000, mode: 0o40777 }, 65534)).toMatch(/belongs to uid 1000/)
  expect(lockDirProblem({ uid: 0, mode: 0o40777 }, 65534)).toMatch(/mode is 777, not 1777/)
  expect(lockDirProblem({ uid: 65534, mode: 0o40777 }, 65534)).toBe('mode')
  expect(lockDirProblem({ uid: 1000, mode: 0o41777 }, 0)).toBe('own')
  expect(lockDirProblem({ uid: 0, mode: 0o41777 }, 65534)).toBeUndefined()
})
