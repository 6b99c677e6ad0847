// Faults on purpose, in either networking mode: a link that goes down and
// comes back, delay and loss that show in what ping measures, a partition,
// and a VM paused, killed and restarted.
import { expect, test } from 'xcluster/vitest'
import { modeRuns } from '../../fixtures/experiment.ts'

/** ping summary -> { received, sent, avgMs } */
function parsePing(out: string): { sent: number; received: number; avgMs: number } {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out)
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(out)
  return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), avgMs: rtt ? Number(rtt[1]) : NaN }
}

export function faultSuite(mode: 'user' | 'bridge'): void {
  // Bridge mode without root or CAP_NET_ADMIN (this process's CapEff): one skipped test that says why; no cluster is started.
  if (!modeRuns(mode, 'faults-bridge: links down and up, delay, loss, partition, pause and kill')) return
  test.override('clusterOptions', { scope: 'file' }, {
    name: `faults-${mode}`, network: mode, nvm: 3, nrouters: 0, tools: true, stdAddresses: true,
    // Declared impairment: vm-003 sends on net 1 with 50 ms of delay.
    impairments: { 3: { 1: { delayMs: 50 } } },
  })

  test('a ping fails while the link is down and works again after it is up', async ({ cluster }) => {
    const link = cluster.vm(2).link(1)
    await expect(cluster.vm(1)).toReach('192.168.1.2')
    await link.down()
    expect(await cluster.vm(2).run('cat /sys/class/net/eth1/carrier')).toBe('0\n')
    await expect(cluster.vm(1)).not.toReach('192.168.1.2', 1)
    await link.up()
    await expect(cluster.vm(1)).toReach('192.168.1.2', 3)
  })

  test('the declared delay shows in the round-trip time (set in the options)', async ({ cluster }) => {
    const r = parsePing(await cluster.vm(1).run('ping -c 10 -i 0.2 -W 3 192.168.1.3', { timeout: 60_000 }))
    console.log(`[${mode}] RTT to vm-003 with 50 ms delay: ${r.avgMs} ms (${r.received}/${r.sent})`)
    expect(r.received).toBe(10)
    expect(r.avgMs).toBeGreaterThanOrEqual(50)
    expect(r.avgMs).toBeLessThan(50 + 100)
  })

  test('a delay set at run time shows in the RTT, and clear() removes it', async ({ cluster }) => {
    const link = cluster.vm(2).link(1)
    await link.impair({ delayMs: 120, jitterMs: 5 })
    const slow = parsePing(await cluster.vm(1).run('ping -c 10 -i 0.2 -W 3 192.168.1.2', { timeout: 60_000 }))
    await link.clear()
    const fast = parsePing(await cluster.vm(1).run('ping -c 10 -i 0.2 -W 3 192.168.1.2', { timeout: 60_000 }))
    console.log(`[${mode}] RTT to vm-002: ${slow.avgMs} ms with 120 ms delay, ${fast.avgMs} ms after clear()`)
    expect(slow.avgMs).toBeGreaterThanOrEqual(115)
    expect(slow.avgMs).toBeLessThan(120 + 100)
    expect(fast.avgMs).toBeLessThan(slow.avgMs - 100)
  })

  test('loss near the rate that was set', async ({ cluster }) => {
    const link = cluster.vm(2).link(1)
    await link.impair({ lossPercent: 30 })
    const r = parsePing(await cluster.vm(1).run('ping -c 200 -i 0.02 -W 1 192.168.1.2 || true', { timeout: 120_000 }))
    await link.clear()
    const loss = (100 * (r.sent - r.received)) / r.sent
    console.log(`[${mode}] loss with 30 % set on vm-002's replies: ${loss.toFixed(1)} % of ${r.sent}`)
    expect(r.sent).toBe(200)
    // 200 pings with p = 0.3: the standard deviation is 3.2 %; 15 points is more than 4 of them.
    expect(loss).toBeGreaterThan(15)
    expect(loss).toBeLessThan(45)
  })

  test('a partition cuts vm-002 off net 1 and heals', async ({ cluster }) => {
    const p = await cluster.partition([2], 1)
    await expect(cluster.vm(1)).not.toReach('192.168.1.2', 1)
    await expect(cluster.vm(3)).not.toReach('192.168.1.2', 1)
    await expect(cluster.vm(1)).toReach('192.168.1.3', 3)
    await p.heal()
    await expect(cluster.vm(1)).toReach('192.168.1.2', 3)
  })

  test('a paused VM does not answer; resumed, it does', async ({ cluster }) => {
    await cluster.vm(2).pause()
    await expect(cluster.vm(1)).not.toReach('192.168.1.2', 1)
    await cluster.vm(2).resume()
    await expect(cluster.vm(1)).toReach('192.168.1.2', 3)
  })

  test('a killed VM is reported with its console; restart() brings it back from scratch', async ({ cluster }) => {
    const vm = cluster.vm(2)
    await vm.run('touch /tmp/before-kill')
    vm.kill()
    await expect(vm.exec('true')).rejects.toThrow(/vm-002 is not running \(QEMU .*\)\n--- console of vm-002/)
    await vm.restart()
    expect(await vm.run('hostname')).toBe('vm-002\n')
    expect((await vm.exec('ls /tmp/before-kill')).exitCode).not.toBe(0)
    await expect(cluster.vm(1)).toReach('192.168.1.2', 3)
  })
}
