// The fixture option reset: 'each': the file's cluster starts from its
// snapshot (saved at the first start of these options), and every test after
// the first finds it as the snapshot has it, whatever the test before did.
// The tests run in order (Vitest's default within a file).
import { expect, test } from '../src/vitest/index.ts'

test.override('clusterOptions', { scope: 'file' }, { name: 'reset-each', nvm: 2, nrouters: 0 })
test.override('reset', { scope: 'file' }, 'each')

test('the first test changes the VMs: a file, an address, a process', async ({ cluster }) => {
  expect(cluster.snapshot).toBeDefined()
  await cluster.vm(1).run('echo left > /root/left && ip addr add 10.7.7.7/32 dev lo && (sleep 1000 > /dev/null 2>&1 &)')
  await cluster.vm(2).run('echo left > /root/left')
})

test('the second test sees none of it: each VM is back at its snapshot', async ({ cluster }) => {
  for (const vm of [1, 2]) expect((await cluster.vm(vm).exec('cat /root/left')).exitCode).not.toBe(0)
  expect(await cluster.vm(1).run('ip -4 -o addr show dev lo')).not.toContain('10.7.7.7')
  expect((await cluster.vm(1).exec('pidof sleep')).exitCode).not.toBe(0)
  // Restored, not booted again: a restored QEMU's console starts empty (no boot marker).
  expect(cluster.vm(1).console()).not.toContain('xc-phase: init')
  await cluster.vm(1).run('echo again > /root/left')
})

test('and the third test neither', async ({ cluster }) => {
  expect((await cluster.vm(1).exec('cat /root/left')).exitCode).not.toBe(0)
  expect((await cluster.vm(1).exec('ping -c1 -W2 192.168.1.2')).exitCode).toBe(0)
})
