// The control channel on a real VM: output exactly as the command wrote it,
// exit codes, stderr apart, hostile commands, parallel calls, bounds, and a
// VM that dies under a test.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ChannelError, GuestCommandError, XcTimeoutError, loadImage, startCluster, type RunningCluster } from '../src/index.ts'

let cluster: RunningCluster
beforeAll(async () => {
  cluster = await startCluster({ name: 'exec', nvm: 2, nrouters: 0 })
})
afterAll(async () => {
  await cluster?.stop()
})

describe('the boot', () => {
  test('QEMU boots the unpacked vmlinux through PVH, and the guest kernel got the boot tuning', async () => {
    const image = loadImage()
    expect(image.kernelBoot).toEqual({ kind: 'pvh' })
    const argv = readFileSync(`/proc/${cluster.vm(1).process.record.pid}/cmdline`, 'utf8').split('\0')
    expect(argv[argv.indexOf('-kernel') + 1]).toBe(image.kernel)
    expect(readFileSync(image.kernel).subarray(0, 4).toString('latin1')).toBe('\x7fELF')
    const cmdline = await cluster.vm(1).run('cat /proc/cmdline')
    expect(cmdline).toContain('cryptomgr.notests')
    expect(cmdline).toContain('initcall_blacklist=crypto_kdf108_init,init_kprobe_trace')
  })
})

describe('output', () => {
  test('stdout, stderr and the exit code come apart, with no prompt, echo or escape codes', async () => {
    const r = await cluster.vm(1).exec('echo out; echo err >&2; exit 7')
    expect(r).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 7 })
  })

  test('quotes, $, backslashes, newlines and non-ASCII pass to the guest shell exactly', async () => {
    const vm = cluster.vm(1)
    expect((await vm.exec(`printf '%s|' "a b" 'c"d' "e'f" '$HOME' "\\\\x"`)).stdout).toBe(`a b|c"d|e'f|$HOME|\\x|`)
    expect((await vm.exec('echo one\necho two\nx=3; echo "$x"')).stdout).toBe('one\ntwo\n3\n')
    expect((await vm.exec("printf 'caf\\303\\251 \\342\\202\\254\\n'")).stdout).toBe('café €\n')
    expect((await vm.exec('echo "ünïcödé in the command"')).stdout).toBe('ünïcödé in the command\n')
  })

  test('binary output arrives byte for byte, 0xff and NUL included', async () => {
    const r = await cluster.vm(1).execRaw("printf '\\377\\000\\001\\r\\n\\036XC-END x 0\\n\\377\\377'")
    expect([...r.stdout]).toEqual([0xff, 0x00, 0x01, 0x0d, 0x0a, 0x1e, ...Buffer.from('XC-END x 0\n'), 0xff, 0xff])
    expect(r.exitCode).toBe(0)
  })

  test('10 MB of output arrives whole (checked by hash)', async () => {
    const vm = cluster.vm(2)
    await vm.run('head -c 10485760 /dev/urandom > /tmp/big')
    const want = (await vm.run('sha256sum /tmp/big')).split(' ')[0]
    const r = await vm.execRaw('cat /tmp/big', { timeout: 240_000 })
    expect(r.stdout.length).toBe(10 * 1024 * 1024)
    expect(createHash('sha256').update(r.stdout).digest('hex')).toBe(want)
  })

  test('a command cannot break the framing of the next one', async () => {
    const vm = cluster.vm(1)
    // Fake markers, an unterminated line, a background job writing later, stdin read attempts.
    await vm.exec("printf '\\036XC-ERR nope\\n\\036XC-END nope 0\\n'; printf 'no newline'")
    await vm.exec('cat; read x; echo read=$x')
    await vm.exec('exec 1>&-; exit 0')
    await vm.exec('exit 5')
    expect(await vm.exec('echo clean')).toEqual({ stdout: 'clean\n', stderr: '', exitCode: 0 })
  })
})

describe('use', () => {
  test('run() throws GuestCommandError with the VM, command, code and output', async () => {
    const err = await cluster.vm(2).run('echo partial; echo why >&2; false').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GuestCommandError)
    expect(err).toMatchObject({ vm: 'vm-002', command: 'echo partial; echo why >&2; false', exitCode: 1, stdout: 'partial\n', stderr: 'why\n' })
  })

  test('several exec calls at once on one VM each get their own answer', async () => {
    const vm = cluster.vm(1)
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => vm.exec(`echo ${i}; exit ${i % 4}`)))
    rs.forEach((r, i) => expect(r).toEqual({ stdout: `${i}\n`, stderr: '', exitCode: i % 4 }))
  })

  test('a timeout stops the command inside the VM too, and the next exec works', async () => {
    const vm = cluster.vm(1)
    const err = await vm.exec('touch /tmp/started; sleep 30; touch /tmp/finished', { timeout: 1500 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(XcTimeoutError)
    expect((err as Error).message).toContain('vm-001: command did not finish within 1500 ms')
    expect((await vm.exec('ls /tmp/started')).exitCode).toBe(0)
    // The sleep was killed with its session: nothing of it is left running.
    expect((await vm.exec('ps | grep -c "[s]leep 30"')).stdout.trim()).toBe('0')
  })

  test('cluster.vm() takes a number or a name and says which VMs exist', async () => {
    expect(cluster.vm('vm-002').num).toBe(2)
    expect(() => cluster.vm(7)).toThrow('No VM vm-007 in cluster exec; it has vm-001, vm-002')
  })
})

describe('a VM that dies', () => {
  test('exec on a VM whose QEMU was killed is an error naming the VM with its console tail, not a hang', async () => {
    const vm = cluster.vm(2)
    process.kill(vm.process.record.pid, 'SIGKILL')
    const err = await vm.exec('true').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChannelError)
    expect((err as Error).message).toMatch(/^vm-002 is not running \(QEMU (killed by SIGKILL|is gone)\)/)
    expect((err as Error).message).toContain('--- console of vm-002 (last lines) ---\nxc-phase: init')
  })
})
