// The guest verbs on a real VM: succeed and fail with their typed errors,
// the waits (a command, a port, a file, a condition), what a wait that runs
// out says (the VM, what, the bound and budget, the last attempt's output),
// a VM that dies under a wait, the budgets per VM and the scale measured from
// this cluster's own boot, and a slow wait told in the test's report.
import { test, expect, waitUntil } from 'xcluster/vitest'
import {
  ChannelError, GuestCommandError, UnexpectedSuccessError, WaitBudgets, WaitTimeoutError, type RunningCluster,
} from 'xcluster'

test.override('clusterOptions', { scope: 'file' }, {
  // tools: socat, for a UDP socket (busybox's nc has none).
  name: 'verbs', nvm: 1, nrouters: 0, tools: true,
  budgets: { mine: 1000 }, budgetsVm: { 1: { mine: 1500 } },
})

/** Run `cmd` in the background in vm-001, detached from the control shell. */
const later = (cluster: RunningCluster, cmd: string): Promise<string> => cluster.vm(1).succeed(`setsid sh -c '${cmd}' > /dev/null 2>&1 < /dev/null &`)

test('succeed gives stdout, or a GuestCommandError with the command, exit code and output; run is the same verb', async ({ cluster }) => {
  const vm = cluster.vm(1)
  expect(await vm.succeed('echo hello')).toBe('hello\n')
  expect(await vm.run('echo hello')).toBe('hello\n')
  const e = (await vm.succeed('echo out; echo err >&2; exit 4').catch((x) => x)) as GuestCommandError
  expect(e).toBeInstanceOf(GuestCommandError)
  expect([e.vm, e.command, e.exitCode, e.stdout, e.stderr]).toEqual(['vm-001', 'echo out; echo err >&2; exit 4', 4, 'out\n', 'err\n'])
})

test('fail gives the result of a command that fails, and an UnexpectedSuccessError (a GuestCommandError) when it exits 0', async ({ cluster }) => {
  const vm = cluster.vm(1)
  expect(await vm.fail('echo no >&2; exit 2')).toEqual({ stdout: '', stderr: 'no\n', exitCode: 2 })
  const e = (await vm.fail('echo yes').catch((x) => x)) as UnexpectedSuccessError
  expect(e).toBeInstanceOf(UnexpectedSuccessError)
  expect(e).toBeInstanceOf(GuestCommandError)
  expect([e.vm, e.command, e.exitCode, e.stdout]).toEqual(['vm-001', 'echo yes', 0, 'yes\n'])
  expect(e.message).toBe('Command succeeded on vm-001 where it was to fail: echo yes\n--- stdout ---\nyes')
})

test('waitUntilSucceeds and waitUntilFails wait for a command to change its mind', async ({ cluster }) => {
  const vm = cluster.vm(1)
  await vm.succeed('rm -f /tmp/ready; touch /tmp/busy')
  await later(cluster, 'sleep 1; echo up > /tmp/ready; rm /tmp/busy')
  const t0 = Date.now()
  expect(await vm.waitUntilSucceeds('cat /tmp/ready')).toBe('up\n')
  expect(Date.now() - t0).toBeGreaterThan(500)
  expect((await vm.waitUntilFails('test -e /tmp/busy')).exitCode).toBe(1)
})

test('waitForPort waits for a listening TCP socket and a bound UDP one; waitForFile for a file', async ({ cluster }) => {
  const vm = cluster.vm(1)
  await later(cluster, 'sleep 1; nc -l -p 8080')
  await vm.waitForPort(8080)
  expect(await vm.succeed('cat /proc/net/tcp /proc/net/tcp6')).toMatch(/:1F90 [0:]+ 0A/)
  await later(cluster, 'sleep 1; socat -u UDP-RECV:5353 /dev/null')
  await vm.waitForPort(5353, { proto: 'udp' })
  await later(cluster, 'sleep 1; touch /tmp/made')
  await vm.waitForFile('/tmp/made')
})

test("a wait that runs out names the VM, what it waited for, the bound, the budget and the last attempt's output", async ({ cluster }) => {
  const vm = cluster.vm(1)
  const scale = cluster.budgets.scale
  const e = (await vm.waitUntilSucceeds('echo not yet; echo nor now >&2; exit 3', { timeout: 1500, interval: 100 }).catch((x) => x)) as WaitTimeoutError
  expect(e).toBeInstanceOf(WaitTimeoutError)
  expect(e.vm).toBe('vm-001')
  expect(e.what).toBe('`echo not yet; echo nor now >&2; exit 3` to succeed')
  expect(e.timeoutMs).toBe(Math.round(1500 * scale))
  expect(e.elapsedMs).toBeGreaterThanOrEqual(e.timeoutMs)
  expect(e.attempts).toBeGreaterThan(1)
  expect(e.lastOutput).toBe('exit 3: echo not yet; echo nor now >&2; exit 3\nnot yet\nnor now')
  expect(e.message).toContain('--- the last attempt ---\nexit 3')
  // A port: what listens instead; a named budget: its name.
  const p = (await vm.waitForPort(9, { timeout: 500 }).catch((x) => x)) as WaitTimeoutError
  expect(p.lastOutput).toMatch(/^nothing listens on tcp port 9; listening: .*\b23\b/)
  const f = (await vm.waitForFile('/nonexistent', { budget: 'mine', interval: 500 }).catch((x) => x)) as WaitTimeoutError
  expect(f.budget).toEqual({ name: 'mine', nominalMs: 1500, scale })
})

test('cluster.waitUntil takes a condition (false or a throw: not yet) and gives its value; its error shows the last throw', async ({ cluster }) => {
  let n = 0
  const v = await cluster.waitUntil(async () => (++n < 3 ? false : await cluster.vm(1).succeed('hostname')), { what: 'the third try', interval: 50 })
  expect([v, n]).toEqual(['vm-001\n', 3])
  const e = (await cluster.waitUntil(async () => expect(await cluster.vm(1).succeed('echo 1')).toBe('2\n'), { what: 'one to be two', timeout: 600 }).catch((x) => x)) as WaitTimeoutError
  expect(e).toBeInstanceOf(WaitTimeoutError)
  expect(e.lastOutput).toMatch(/expected '1\\n' to be '2\\n'/)
})

test("budgets: the VM's own over the cluster's over the default, all scaled by what this cluster's boot measured", async ({ cluster }) => {
  const b = cluster.budgets
  expect(b.nominal('mine', 1)).toBe(1500)
  expect(b.nominal('mine')).toBe(1000)
  expect(b.nominal('bgpSession', 1)).toBe(60_000)
  expect(b.ms('mine', 1)).toBe(Math.round(1500 * b.scale))
  // Measured from this cluster's one cold boot (recorded in its state: an `xc` command attached to it measures the same).
  expect(b.how).toMatch(/^measured: 1 cold boot against 2000 ms for one VM alone \(TCG|KVM\)/)
  expect(b.scale).toBeGreaterThanOrEqual(1)
  const rec = cluster.vm(1).record
  expect(Date.parse(rec.readyAt!)).toBeGreaterThan(Date.parse(rec.startedAt!))
  expect(WaitBudgets.of({ budgets: {}, budgetsVm: {}, budgetScale: 'auto' }, 'tcg', [rec]).scale).toBe(b.scale)
  // A fixed scale, as budgetScale or XCLUSTER_BUDGET_SCALE give it.
  expect(WaitBudgets.of({ budgets: {}, budgetsVm: {}, budgetScale: 2.5 }, 'tcg', [rec]).ms('vrrpFailover')).toBe(37_500)
})

test('a wait that needed more than its nominal time says so in the test report', async ({ cluster, task }) => {
  const vm = cluster.vm(1)
  // This VM's budgets at a scale of 5: a wait of 0.4 s nominal may take 2 s; the file comes after about 1 s.
  const own = vm.budgets
  vm.budgets = new WaitBudgets(5)
  try {
    await vm.succeed('rm -f /tmp/late')
    await later(cluster, 'sleep 1; touch /tmp/late')
    await vm.waitForFile('/tmp/late', { timeout: 400 })
  } finally {
    vm.budgets = own
  }
  // The annotation is recorded as Vitest takes it (asynchronously): waited for, on the host.
  const note = await waitUntil(() => task.annotations.map((a) => a.message).find((m) => m.includes('file /tmp/late')) ?? false, { what: 'the annotation', timeout: 5000, interval: 20 })
  expect(note).toMatch(/^xcluster: vm-001: file \/tmp\/late took \d+\.\d s, more than its nominal 0\.4 s \(nominal 0\.4 s x 5 = 2\.0 s; \d+ attempts\)$/)
})

test('a VM that dies under a wait ends the wait at once with the harness error, not a timeout', async ({ cluster }) => {
  const vm = cluster.vm(1)
  setTimeout(() => vm.kill(), 1000)
  const t0 = Date.now()
  const e = await vm.waitUntilSucceeds('false', { timeout: 120_000 }).catch((x) => x)
  expect(e).toBeInstanceOf(ChannelError)
  expect(Date.now() - t0).toBeLessThan(20_000)
})
