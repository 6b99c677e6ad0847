// Wait budgets: their checks, the scale measured from a cluster's boots,
// which budget a wait gets, and the one retry the verbs run on (its errors,
// its log events). Pure logic; the verbs on real VMs are in test/verbs.test.ts.
import { afterEach, describe, expect, it } from 'vitest'
import { checkOptions, type ClusterOptions } from '../../src/cluster/options.ts'
import { WaitBudgets } from '../../src/cluster/budgets.ts'
import { onVerbEvent, verbLine, type VerbEvent } from '../../src/cluster/verb-log.ts'
import { retryUntil, waitUntil } from '../../src/cluster/wait-until.ts'
import { listeningPorts } from '../../src/cluster/verbs.ts'
import { ChannelError, GuestCommandError, WaitTimeoutError } from '../../src/errors.ts'
import { DEFAULT_BUDGETS, MAX_SCALE, measuredScale } from '../../src/plan/budgets.ts'

const problemsOf = (o: unknown): string[] => checkOptions(o as ClusterOptions).problems

describe('budget options', () => {
  it('takes budgets by name (defaults and names of your own), per VM, and a scale', () => {
    const { spec, problems } = checkOptions({ budgets: { bgpSession: 90_000, myFailover: 5000 }, budgetsVm: { 201: { bgpSession: 120_000 } }, budgetScale: 2 })
    expect(problems).toEqual([])
    expect(spec.budgets).toEqual({ bgpSession: 90_000, myFailover: 5000 })
    expect(spec.budgetsVm).toEqual({ 201: { bgpSession: 120_000 } })
    expect(spec.budgetScale).toBe(2)
  })

  it('lists every bad budget at once', () => {
    expect(problemsOf({ budgets: { bgpSession: '90s', 'not a name': 1, ospfAdjacency: 0 }, budgetsVm: { 999: {}, 1: 5 }, budgetScale: 'fast' })).toEqual([
      'Expected `budgets.bgpSession` to be whole milliseconds 1-3600000, got `90s`',
      'Expected the names in `budgets` to be identifiers (letters, digits, _ and -), got `not a name`',
      'Expected `budgets.ospfAdjacency` to be whole milliseconds 1-3600000, got `0`',
      // (JavaScript lists an object's integer keys in order)
      'Expected `budgetsVm[1]` to be an object of budgets by name in ms (e.g. { bgpSession: 90000 }), got `5`',
      'Expected the keys of `budgetsVm` to be VM numbers 1-240, got `999`',
      "Expected `budgetScale` to be 'auto' or a number 0.1-100 (the factor every wait budget is multiplied by), got `fast`",
    ])
  })
})

describe('measuredScale', () => {
  const at = (startMs: number, len: number) => ({ startMs, readyMs: startMs + len })

  it('is 1 for boots as fast as the reference, and without samples', () => {
    expect(measuredScale([at(0, 2000)], 2, 2000)).toBe(1)
    expect(measuredScale([], 2, 2000)).toBe(1)
    // A faster machine keeps the nominal budgets: protocol timers do not shrink with it.
    expect(measuredScale([at(0, 500)], 2, 2000)).toBe(1)
  })

  it('measures a lone slow boot as it is', () => {
    expect(measuredScale([at(0, 6000)], 2, 2000)).toBe(3)
  })

  it("takes out what the cluster's own boots explain: 4 VMs booting at once on 2 cores take twice as long each", () => {
    const four = [0, 1, 2, 3].map(() => at(0, 4000))
    expect(measuredScale(four, 2, 2000)).toBe(1)
    // Twice slower still than that: the machine is loaded by something else.
    expect(measuredScale([0, 1, 2, 3].map(() => at(0, 8000)), 2, 2000)).toBe(2)
  })

  it('takes the median, and stops at MAX_SCALE', () => {
    expect(measuredScale([at(0, 2000), at(10_000, 6000), at(20_000, 4000)], 2, 2000)).toBe(2)
    expect(measuredScale([at(0, 200_000)], 2, 2000)).toBe(MAX_SCALE)
  })
})

describe('WaitBudgets', () => {
  it("gives a VM's own budget, else the cluster's, else the default, scaled", () => {
    const b = new WaitBudgets(2, { bgpSession: 40_000 }, { 201: { bgpSession: 50_000 } })
    expect(b.nominal('bgpSession', 201)).toBe(50_000)
    expect(b.nominal('bgpSession', 1)).toBe(40_000)
    expect(b.nominal('vrrpFailover')).toBe(DEFAULT_BUDGETS.vrrpFailover)
    expect(b.ms('bgpSession', 201)).toBe(100_000)
    expect(b.bound({ budget: 'vrrpFailover' })).toEqual({ timeoutMs: 30_000, budget: { name: 'vrrpFailover', nominalMs: 15_000, scale: 2 } })
    // A timeout of the wait's own is a nominal time too.
    expect(b.bound({ timeout: 1000 })).toEqual({ timeoutMs: 2000, budget: { nominalMs: 1000, scale: 2 } })
    expect(b.bound({}, undefined, 'port').budget.name).toBe('port')
  })

  it('refuses a budget nobody named, listing the known ones, and a timeout given with a budget', () => {
    expect(() => new WaitBudgets(1, { mine: 1 }).nominal('bgpSesion')).toThrow(/No wait budget named `bgpSesion`: known ones are default, boot, .*vrrpFailover, mine/)
    expect(() => new WaitBudgets().bound({ timeout: 5, budget: 'boot' })).toThrow(/a `timeout` or a `budget`, not both/)
  })
})

describe('retryUntil', () => {
  const events: VerbEvent[] = []
  let stop = onVerbEvent((e) => events.push(e))
  afterEach(() => {
    events.length = 0
    stop()
    stop = onVerbEvent((e) => events.push(e))
  })
  const wait = { vm: 'vm-001', what: 'the thing', timeoutMs: 300, intervalMs: 20, budget: { name: 'default', nominalMs: 100, scale: 3 } }

  it('tries until the attempt neither throws nor returns false, and resolves with its value', async () => {
    let n = 0
    const v = await retryUntil(() => (++n < 3 ? false : 'there'), wait)
    expect(v).toBe('there')
    expect(n).toBe(3)
    expect(events.map((e) => e.kind)).toEqual(['wait', 'done'])
  })

  it("times out with the VM, what, the bound, the budget and the last attempt's output", async () => {
    let n = 0
    const e = (await retryUntil(() => {
      throw new GuestCommandError('vm-001', 'ip route show 10.0.0.2', 1, `attempt ${++n}`, 'no route')
    }, wait).catch((x) => x)) as WaitTimeoutError
    expect(e).toBeInstanceOf(WaitTimeoutError)
    expect(e.vm).toBe('vm-001')
    expect(e.what).toBe('the thing')
    expect(e.timeoutMs).toBe(300)
    expect(e.elapsedMs).toBeGreaterThanOrEqual(300)
    expect(e.attempts).toBe(n)
    expect(e.lastOutput).toBe(`exit 1: ip route show 10.0.0.2\nattempt ${n}\nno route`)
    expect(e.message).toMatch(/^vm-001: waited 0\.\d s for the thing, in vain \(bound 0\.3 s = budget default: 0\.1 s nominal x 3 for this machine; \d+ attempts\)\n--- the last attempt ---\nexit 1/)
    expect(events.map((x) => x.kind)).toEqual(['wait', 'timeout'])
  })

  it('ends at once on an error of the harness (a VM gone)', async () => {
    let n = 0
    const e = await retryUntil(() => {
      n++
      throw new ChannelError('vm-001 is not running')
    }, wait).catch((x) => x)
    expect(e).toBeInstanceOf(ChannelError)
    expect(n).toBe(1)
  })

  it('tells a wait that took more than its nominal time', async () => {
    const t0 = Date.now()
    await retryUntil(() => Date.now() - t0 > 150, wait)
    const done = events.find((x) => x.kind === 'done')!
    expect(verbLine(done)).toMatch(/^xcluster: vm-001: the thing took 0\.\d s, more than its nominal 0\.1 s \(budget default, nominal 0\.1 s x 3 = 0\.3 s; \d+ attempts\)$/)
  })

  it('waitUntil (the host\'s) takes expect-style conditions: a throw is not yet, no throw is done', async () => {
    let n = 0
    await waitUntil(() => {
      if (++n < 3) throw new Error(`only ${n}`)
    }, { what: 'three tries', timeout: 2000, interval: 10 })
    expect(n).toBe(3)
    const e = (await waitUntil(() => expect(1).toBe(2), { what: 'one to be two', timeout: 100, interval: 10 }).catch((x) => x)) as WaitTimeoutError
    expect(e.lastOutput).toMatch(/expected 1 to be 2/)
    expect(e.vm).toBeUndefined()
  })
})

describe('listeningPorts', () => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:0017 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0 100 0 0 10 0',
    '   1: 0100007F:0B3A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1235 1 0 100 0 0 10 0',
    '   2: 0200A8C0:0017 FA00A8C0:D431 01 00000000:00000000 02:000AF8B5 00000000     0        0 1236 2 0 20 4 30 10 -1',
    '   0: 00000000000000000000000000000000:00B3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0 100 0 0 10 0',
  ].join('\n')

  it('reads the listening TCP ports (IPv4 and IPv6), not the connected ones', () => {
    expect(listeningPorts(tcp, 'tcp')).toEqual([23, 179, 2874])
  })

  it('reads every bound UDP port', () => {
    expect(listeningPorts('  sl  local_address ...\n  12: 00000000:0EA5 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0', 'udp')).toEqual([3749])
  })
})
