import { describe, expect, it } from 'vitest'
import { checkOptions, type ClusterOptions } from '../../src/cluster/options.ts'
import { DEFAULTS, netsOf, roleOf } from '../../src/plan/spec.ts'

const problemsOf = (o: unknown): string[] => checkOptions(o as ClusterOptions).problems

describe('checkOptions defaults', () => {
  it('fills in every default and finds no problem', () => {
    const { spec, problems } = checkOptions({})
    expect(problems).toEqual([])
    expect(spec).toEqual({
      name: 'default',
      vms: [1, 2, 3, 4, 201, 202],
      netsVm: [0, 1],
      netsRouter: [0, 1, 2],
      netsTester: [0, 2],
      nets: {},
      links: [],
      mem: 128,
      memVm: {},
      smp: 1,
      smpVm: {},
      overlays: [],
      overlaysRole: {},
      overlaysVm: {},
      packages: [],
      packagesRole: {},
      packagesVm: {},
      network: 'user',
      netSetup: undefined,
      rootless: undefined,
      snapshot: false,
      rcFailures: 'report',
      accel: 'auto',
      append: '',
      appendVm: {},
      prefix: '1000::1',
      bootTimeout: undefined,
      bootConcurrency: undefined,
      budgets: {},
      budgetsVm: {},
      budgetScale: 'auto',
      start: undefined,
      tools: false,
      stdAddresses: false,
      topology: undefined,
      impairments: {},
      // Resolved by validateOptions (from XCLUSTER_HOME), not by the pure check.
      home: '',
    })
  })

  it('treats undefined options like empty options', () => {
    const { spec, problems } = checkOptions(undefined as unknown as ClusterOptions)
    expect(problems).toEqual([])
    expect(spec.vms).toEqual([1, 2, 3, 4, 201, 202])
  })

  it('numbers nodes 1.., routers 201.., testers 221..', () => {
    const { spec, problems } = checkOptions({ nvm: 2, nrouters: 3, ntesters: 2 })
    expect(problems).toEqual([])
    expect(spec.vms).toEqual([1, 2, 201, 202, 203, 221, 222])
  })

  it('accepts the limits of the counts', () => {
    const { spec, problems } = checkOptions({ nvm: 200, nrouters: 20, ntesters: 20 })
    expect(problems).toEqual([])
    expect(spec.vms.length).toBe(240)
    expect(spec.vms[0]).toBe(1)
    expect(spec.vms[199]).toBe(200)
    expect(spec.vms[200]).toBe(201)
    expect(spec.vms[219]).toBe(220)
    expect(spec.vms[220]).toBe(221)
    expect(spec.vms[239]).toBe(240)
  })

  it('allows zero routers', () => {
    const { spec, problems } = checkOptions({ nvm: 1, nrouters: 0 })
    expect(problems).toEqual([])
    expect(spec.vms).toEqual([1])
  })

  it('adds extraVms, sorted, in any role', () => {
    const { spec, problems } = checkOptions({ nvm: 2, nrouters: 1, extraVms: [230, 7, 210] })
    expect(problems).toEqual([])
    expect(spec.vms).toEqual([1, 2, 7, 201, 210, 230])
  })

  it('keeps valid values given', () => {
    const { spec, problems } = checkOptions({
      name: 'my_cl-1',
      mem: 256,
      memVm: { 201: 512 },
      smp: 2,
      smpVm: { 1: 4 },
      netsVm: [0, 3],
      netsRouter: [0, 3, 4],
      netsTester: [0, 4],
      accel: 'tcg',
      network: 'bridge',
      append: 'loglevel=4',
      appendVm: { 2: 'x=1' },
      prefix: 'fd00::5',
      bootTimeout: 5000,
      bootConcurrency: 3,
      overlays: ['/a'],
      overlaysRole: { router: ['/r'] },
      overlaysVm: { 3: ['/v3'] },
    })
    expect(problems).toEqual([])
    expect(spec.name).toBe('my_cl-1')
    expect(spec.mem).toBe(256)
    expect(spec.memVm).toEqual({ 201: 512 })
    expect(spec.smp).toBe(2)
    expect(spec.smpVm).toEqual({ 1: 4 })
    expect(spec.netsVm).toEqual([0, 3])
    expect(spec.netsRouter).toEqual([0, 3, 4])
    expect(spec.netsTester).toEqual([0, 4])
    expect(spec.accel).toBe('tcg')
    expect(spec.network).toBe('bridge')
    expect(spec.append).toBe('loglevel=4')
    expect(spec.appendVm).toEqual({ 2: 'x=1' })
    expect(spec.prefix).toBe('fd00::5')
    expect(spec.bootTimeout).toBe(5000)
    expect(spec.bootConcurrency).toBe(3)
    expect(spec.overlays).toEqual(['/a'])
    expect(spec.overlaysRole).toEqual({ router: ['/r'] })
    expect(spec.overlaysVm).toEqual({ 3: ['/v3'] })
  })

  it('accepts a custom network with a function or a path', () => {
    const fn = (): string[] => []
    const a = checkOptions({ network: { base: 'bridge', netSetup: fn } })
    expect(a.problems).toEqual([])
    expect(a.spec.network).toBe('bridge')
    expect(a.spec.netSetup).toBe(fn)
    const b = checkOptions({ network: { netSetup: '/usr/local/bin/setup' } })
    expect(b.problems).toEqual([])
    expect(b.spec.network).toBe('user')
    expect(b.spec.netSetup).toBe('/usr/local/bin/setup')
  })
})

describe('per-VM nets', () => {
  it('override the role default for that VM only', () => {
    const { spec, problems } = checkOptions({ nets: { 201: [0, 1, 3], 2: [0] } })
    expect(problems).toEqual([])
    expect(spec.nets).toEqual({ 201: [0, 1, 3], 2: [0] })
    expect(netsOf(spec, 201)).toEqual([0, 1, 3])
    expect(netsOf(spec, 202)).toEqual([0, 1, 2])
    expect(netsOf(spec, 2)).toEqual([0])
    expect(netsOf(spec, 1)).toEqual([0, 1])
  })

  it('netsOf picks the role list', () => {
    const spec = { nets: {}, netsVm: [0, 5], netsRouter: [0, 6], netsTester: [0, 7] }
    expect(netsOf(spec, 1)).toEqual([0, 5])
    expect(netsOf(spec, 200)).toEqual([0, 5])
    expect(netsOf(spec, 201)).toEqual([0, 6])
    expect(netsOf(spec, 220)).toEqual([0, 6])
    expect(netsOf(spec, 221)).toEqual([0, 7])
    expect(netsOf(spec, 240)).toEqual([0, 7])
  })
})

describe('roleOf', () => {
  it.each([
    [1, 'node'],
    [200, 'node'],
    [201, 'router'],
    [220, 'router'],
    [221, 'tester'],
    [240, 'tester'],
  ] as const)('vm %i is a %s', (vm, role) => {
    expect(roleOf(vm)).toBe(role)
  })
})

describe('checkOptions problems', () => {
  it('lists every problem together, each naming the option and the value', () => {
    const { spec, problems } = checkOptions({
      nvm: 0,
      nrouters: 21,
      nets: { 3: [1, 2] },
      netsRouter: [0, 300],
      mem: 64,
    })
    expect(problems).toEqual([
      'Expected `nvm` to be an integer 1-200, got `0`',
      'Expected `nrouters` to be an integer 0-20, got `21`',
      'Expected every net in `netsRouter` to be an integer 0-254, got `300`',
      '`nets[3]` must start with net 0 (the internal net, eth0, that the harness reaches each VM on), got `[1,2]`',
      'Expected `mem` to be an integer 80-16384, got `64` (this kernel does not boot with less than 80 MiB)',
    ])
    // Bad values fall back to the defaults; the bad per-VM list is dropped.
    expect(spec.vms).toEqual([1, 2, 3, 4, 201, 202])
    expect(spec.mem).toBe(128)
    expect(spec.netsRouter).toEqual([0, 1, 2])
    expect(spec.nets).toEqual({})
  })

  it('reports unknown option keys alongside other problems', () => {
    const problems = problemsOf({ nvms: 3, router: 1, nvm: -1 })
    expect(problems).toHaveLength(3)
    // A near miss gets the option it most likely means; a word near none gets the list.
    expect(problems[0]).toBe('Unknown option `nvms`: did you mean `nvm`?')
    expect(problems[1]).toBe('Unknown option `router`: did you mean `nrouters`?')
    expect(problems[2]).toBe('Expected `nvm` to be an integer 1-200, got `-1`')
  })

  it.each([
    ['nvm', 1.5],
    ['nvm', '4'],
    ['nvm', Number.NaN],
    ['nrouters', 2.5],
    ['ntesters', '1'],
    ['mem', 128.5],
    ['smp', 0],
  ])('rejects %s = %s', (key, value) => {
    const { problems } = checkOptions({ [key]: value } as ClusterOptions)
    expect(problems).toHaveLength(1)
    const range = { nvm: '1-200', nrouters: '0-20', ntesters: '0-20', mem: '80-16384', smp: '1-64' }[key]
    expect(problems[0].startsWith(`Expected \`${key}\` to be an integer ${range}, got \``)).toBe(true)
  })

  it('shows a fractional value exactly', () => {
    expect(problemsOf({ nvm: 1.5 })).toEqual(['Expected `nvm` to be an integer 1-200, got `1.5`'])
  })

  it('rejects a net list with a net twice', () => {
    expect(problemsOf({ netsVm: [0, 1, 1] })).toEqual(['`netsVm` lists a net twice: `[0,1,1]`'])
    expect(problemsOf({ nvm: 5, nets: { 5: [0, 2, 2] } })).toEqual(['`nets[5]` lists a net twice: `[0,2,2]`'])
  })

  it('rejects empty, non-list and too long net lists', () => {
    expect(problemsOf({ netsTester: [] })).toEqual(['Expected `netsTester` to be a non-empty list of net numbers, got `[]`'])
    expect(problemsOf({ netsVm: '0,1' })).toEqual(['Expected `netsVm` to be a non-empty list of net numbers, got `0,1`'])
    const seventeen = Array.from({ length: 17 }, (_, i) => i)
    expect(problemsOf({ netsRouter: seventeen })).toEqual(['`netsRouter` has 17 nets; at most 16 NICs per VM'])
    const sixteen = Array.from({ length: 16 }, (_, i) => i)
    expect(problemsOf({ netsRouter: sixteen })).toEqual([])
  })

  it('reports every bad net of a list', () => {
    expect(problemsOf({ netsVm: [0, -1, 1.5, 255] })).toEqual([
      'Expected every net in `netsVm` to be an integer 0-254, got `-1`',
      'Expected every net in `netsVm` to be an integer 0-254, got `1.5`',
      'Expected every net in `netsVm` to be an integer 0-254, got `255`',
    ])
  })

  it('rejects net lists not starting with net 0', () => {
    expect(problemsOf({ netsVm: [1, 0] })).toEqual([
      '`netsVm` must start with net 0 (the internal net, eth0, that the harness reaches each VM on), got `[1,0]`',
    ])
  })

  it('rejects bad keys of per-VM objects', () => {
    expect(problemsOf({ nets: { 0: [0], 241: [0] } })).toEqual([
      'Expected the keys of `nets` to be VM numbers 1-240, got `0`',
      'Expected the keys of `nets` to be VM numbers 1-240, got `241`',
    ])
    expect(problemsOf({ memVm: { x: 256 } })).toEqual(['Expected the keys of `memVm` to be VM numbers 1-240, got `x`'])
    expect(problemsOf({ nets: [[0, 1]] })).toEqual(['Expected `nets` to be an object keyed by VM number, got `[[0,1]]`'])
  })

  it('rejects bad per-VM memory and smp', () => {
    expect(problemsOf({ memVm: { 201: 64 }, smpVm: { 1: 65 } })).toEqual([
      'Expected `memVm[201]` to be an integer 80-16384 (MiB; the kernel does not boot with less than 80), got `64`',
      'Expected `smpVm[1]` to be an integer 1-64, got `65`',
    ])
  })

  it('rejects duplicate extraVms and extraVms already in the counts', () => {
    const { spec, problems } = checkOptions({ nvm: 4, extraVms: [5, 5, 3, 0, 241, 202] })
    expect(problems).toEqual([
      '`extraVms` lists vm-005 twice or again after the counts',
      '`extraVms` lists vm-003 twice or again after the counts',
      'Expected every VM in `extraVms` to be an integer 1-240, got `0`',
      'Expected every VM in `extraVms` to be an integer 1-240, got `241`',
      '`extraVms` lists vm-202 twice or again after the counts',
    ])
    expect(spec.vms).toEqual([1, 2, 3, 4, 5, 201, 202])
    expect(problemsOf({ extraVms: 5 })).toEqual(['Expected `extraVms` to be a list of VM numbers, got `5`'])
  })

  it('rejects bad network strings and objects', () => {
    expect(problemsOf({ network: 'bridged' })).toEqual([
      "Expected `network` to be 'user', 'bridge' or { base, netSetup }, got `bridged`",
    ])
    expect(problemsOf({ network: { base: 'tap', netSetup: '/x' } })).toEqual([
      "Expected `network.base` to be 'user' or 'bridge', got `tap`",
    ])
    expect(problemsOf({ network: { netSetup: '' } })).toEqual([
      'Expected `network.netSetup` to be a function (vm, net, context) => string[] or the path of an executable, got `""` (an empty string)',
    ])
    expect(problemsOf({ network: { base: 'user' } })).toEqual([
      "Expected `network` to be 'user', 'bridge' or { base, netSetup }, got `{\"base\":\"user\"}`",
    ])
  })

  it('rejects bad accel strings', () => {
    expect(problemsOf({ accel: 'KVM' })).toEqual(["Expected `accel` to be 'auto', 'kvm' or 'tcg', got `KVM`"])
    expect(problemsOf({ accel: 'hvf' })).toEqual(["Expected `accel` to be 'auto', 'kvm' or 'tcg', got `hvf`"])
  })

  it.each(['fd00::', '1000:1', 'g::1', '', 'fd00::/64'])('rejects prefix %j', (prefix) => {
    expect(problemsOf({ prefix })).toEqual([
      `Expected \`prefix\` to be an IPv6 prefix such as \`1000::1\` (the std address is <prefix>:192.168.k.v), got ${prefix === '' ? '`""` (an empty string)' : `\`${prefix}\``}`,
    ])
  })

  it.each(['1::2::3', '1:2:3:4:5::6'])('rejects prefix %j, which gives no valid IPv6 address', (prefix) => {
    expect(problemsOf({ prefix })).toHaveLength(1)
  })

  it('a returned net list is a copy: changing it does not change the defaults', () => {
    checkOptions({}).spec.netsVm.push(7)
    expect(checkOptions({}).spec.netsVm).toEqual([0, 1])
  })

  it.each(['1000::1', 'fd00::5', 'FD00::ab:1'])('accepts prefix %j', (prefix) => {
    const { spec, problems } = checkOptions({ prefix })
    expect(problems).toEqual([])
    expect(spec.prefix).toBe(prefix)
  })

  it('rejects bad names', () => {
    expect(problemsOf({ name: 'my cluster' })).toEqual([
      'Expected `name` to be 1-32 letters, digits, `-` or `_`, got `my cluster`',
    ])
    expect(problemsOf({ name: 'x'.repeat(33) })).toHaveLength(1)
    expect(problemsOf({ name: 'x'.repeat(32) })).toEqual([])
  })

  it('rejects bad overlays, paths, timeouts and callbacks', () => {
    expect(
      problemsOf({
        overlays: ['/a', ''],
        overlaysRole: { switch: ['/s'] },
        home: '',
        kernel: 5,
        bootTimeout: 0,
        bootConcurrency: 257,
        onProgress: 'yes',
        append: 3,
      }),
    ).toEqual([
      'Expected `overlays` to be a list of overlay paths, got `["/a",""]`',
      'Expected the keys of `overlaysRole` to be node, router or tester, got `switch`',
      'Expected `append` to be a string, got `3`',
      'Expected `bootTimeout` to be an integer 1-3600000, got `0`',
      'Expected `bootConcurrency` to be an integer 1-256, got `257`',
      'Expected `home` to be a path, got `""` (an empty string)',
      'Expected `kernel` to be a kernel\'s name (xcluster, debian, or one `xc kernel build` made) or a path, got `5`',
      'Expected `onProgress` to be a function, got `yes`',
    ])
  })

  it('rejects a start hook that is not a function, and keeps one that is', () => {
    expect(problemsOf({ start: 'go' })).toEqual([
      'Expected `start` to be a function (ctx: StartContext) => Promise<void>, got `go`',
    ])
    const start = async (): Promise<void> => {}
    const { spec, problems } = checkOptions({ start })
    expect(problems).toEqual([])
    expect(spec.start).toBe(start)
  })

  it('does not let one call change the defaults of the next', () => {
    checkOptions({ netsVm: [0, 9], mem: 512 })
    const { spec } = checkOptions({})
    expect(spec.netsVm).toEqual([0, 1])
    expect(spec.mem).toBe(128)
    expect(DEFAULTS.netsVm).toEqual([0, 1])
  })
})

describe('per-VM options name VMs of the cluster', () => {
  it.each(['nets', 'memVm', 'smpVm', 'appendVm', 'overlaysVm', 'packagesVm'])('%s keyed by a VM the counts do not make is an error that says how to have it', (key) => {
    const value = { nets: [0, 1], memVm: 256, smpVm: 2, appendVm: 'quiet', overlaysVm: ['/tmp'], packagesVm: ['frr'] }[key]
    expect(problemsOf({ nrouters: 2, [key]: { 203: value } })).toEqual([
      `\`${key}[203]\` names vm-203, which the cluster does not have (its VMs: vm-001..vm-004, vm-201, vm-202): raise \`nrouters\` to 3, add 203 to \`extraVms\`, or drop it`,
    ])
    expect(problemsOf({ nrouters: 3, [key]: { 203: value } })).toEqual([])
    expect(problemsOf({ nrouters: 2, extraVms: [203], [key]: { 203: value } })).toEqual([])
  })

  it('names the count of the role (testers too) and lists long clusters as runs', () => {
    expect(problemsOf({ nvm: 100, memVm: { 150: 256 }, smpVm: { 150: 2 }, impairments: { 221: { 1: { delayMs: 1 } } }, tools: true })).toEqual([
      '`memVm[150]` and `smpVm[150]` name vm-150, which the cluster does not have (its VMs: vm-001..vm-100, vm-201, vm-202): raise `nvm` to 150, add 150 to `extraVms`, or drop them',
      '`impairments[221]` names vm-221, which the cluster does not have (its VMs: vm-001..vm-100, vm-201, vm-202): raise `ntesters` to 1, add 221 to `extraVms`, or drop it',
    ])
  })

  it("leaves a topology's own per-VM defaults alone when the user's counts leave their VMs out", () => {
    // diamond's defaults have nets for routers 201-204; two routers use two of them.
    expect(problemsOf({ topology: 'diamond', nrouters: 2 })).toEqual([])
  })
})

describe('did you mean', () => {
  it.each([
    ['nrouter', 'nrouters'], ['nvms', 'nvm'], ['ntester', 'ntesters'], ['memvm', 'memVm'], ['overlay', 'overlays'], ['packges', 'packages'], ['stdAdresses', 'stdAddresses'], ['tool', 'tools'],
  ])('%s -> %s', (typo, meant) => {
    expect(problemsOf({ [typo]: 1 })[0]).toBe(`Unknown option \`${typo}\`: did you mean \`${meant}\`?`)
  })

  it('a word near no option gets the list of all', () => {
    expect(problemsOf({ colour: 'red' })[0]).toMatch(/^Unknown option `colour`\. Known options: name, nvm, nrouters, .*, rcFailures, budgets, budgetsVm, budgetScale$/)
  })
})
