// Faults on the control channel stay contained, in both networking modes:
// a command that times out fails alone (the calls beside it are answered);
// a VM killed under a command fails that call in a moment, not at its
// timeout, with a typed error naming the VM; a channel dropped while the VM
// lives is replaced by the next exec; the monitor of a VM that is not
// running gives a typed error naming it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ChannelError, MonitorError, XcTimeoutError, startCluster, type RunningCluster } from '../src/index.ts'
import { canBridge, skippedBecause } from './helpers/rights.ts'

for (const network of ['user', 'bridge'] as const) {
  const skip = network === 'bridge' && !canBridge
  describe.skipIf(skip)(skippedBecause(`${network} mode`, skip), () => {
    let cluster: RunningCluster
    beforeAll(async () => {
      cluster = await startCluster({ name: `ctl-${network}`, network, nvm: 2, nrouters: 0 })
    })
    afterAll(async () => {
      await cluster?.stop()
    })

    test('three execs at once, the first timing out: it alone fails, naming the command and the VM', async () => {
      const vm = cluster.vm(1)
      const [slow, b, c] = await Promise.allSettled([vm.exec('sleep 5', { timeout: 1000 }), vm.exec('echo b'), vm.exec('echo c')])
      expect(slow.status).toBe('rejected')
      const err = (slow as PromiseRejectedResult).reason as Error
      expect(err).toBeInstanceOf(XcTimeoutError)
      expect(err.message).toContain('vm-001')
      expect(err.message).toContain('sleep 5')
      expect(b).toEqual({ status: 'fulfilled', value: { stdout: 'b\n', stderr: '', exitCode: 0 } })
      expect(c).toEqual({ status: 'fulfilled', value: { stdout: 'c\n', stderr: '', exitCode: 0 } })
      // The timed-out command was stopped in the guest.
      expect((await vm.exec("ps | grep -c '[s]leep 5'")).stdout.trim()).toBe('0')
    })

    test('a channel dropped while the VM lives: that call fails, the next exec reconnects', async () => {
      const vm = cluster.vm(1)
      // $$ in the command's subshell is the control loop's own shell: the session ends under the call.
      await expect(vm.exec('kill -9 $$')).rejects.toBeInstanceOf(ChannelError)
      expect(await vm.run('hostname')).toBe('vm-001\n')
    })

    test('a VM killed under a command fails the call within seconds, naming the VM; its monitor then gives MonitorError', async () => {
      const vm = cluster.vm(2)
      const started = Date.now()
      const call = vm.exec('sleep 60', { timeout: 120_000 })
      await new Promise((r) => setTimeout(r, 500))
      process.kill(vm.process.record.pid, 'SIGKILL')
      const err = (await call.catch((e: unknown) => e)) as Error
      const ms = Date.now() - started
      console.log(`[${network}] the call failed ${ms} ms after it began (killed at 500 ms)`)
      expect(err).toBeInstanceOf(ChannelError)
      expect(err.message).toContain('vm-002')
      expect(ms).toBeLessThan(10_000)
      const mon = (await vm.pause().catch((e: unknown) => e)) as Error
      expect(mon).toBeInstanceOf(MonitorError)
      expect(mon.message).toContain('vm-002')
    })
  })
}
