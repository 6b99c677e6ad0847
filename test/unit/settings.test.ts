import { describe, expect, it } from 'vitest'
import { dropEnvForAbsentVms, resolveSettings, type Setting } from '../../src/cli/settings.ts'
import { checkOptions } from '../../src/cluster/options.ts'

const settingOf = (settings: Setting[], key: string): Setting | undefined => settings.find((s) => s.key === key)

describe('resolveSettings', () => {
  it('gives no options and every default setting for no flags and no environment', () => {
    const { options, settings } = resolveSettings({}, {})
    expect(options).toEqual({})
    expect(settings).toEqual([
      { key: 'nvm', value: 4, source: 'default' },
      { key: 'nrouters', value: 2, source: 'default' },
      { key: 'ntesters', value: 0, source: 'default' },
      { key: 'mem', value: 128, source: 'default' },
      { key: 'smp', value: 1, source: 'default' },
      { key: 'netsVm', value: [0, 1], source: 'default' },
      { key: 'netsRouter', value: [0, 1, 2], source: 'default' },
      { key: 'netsTester', value: [0, 2], source: 'default' },
      { key: 'network', value: 'user', source: 'default' },
      { key: 'name', value: 'default', source: 'default' },
    ])
  })

  it('takes __nvm from the environment', () => {
    const { options, settings } = resolveSettings({}, { __nvm: '3' })
    expect(options.nvm).toBe(3)
    expect(settingOf(settings, 'nvm')).toEqual({ key: 'nvm', value: 3, source: 'environment', from: '__nvm' })
    expect(settings.filter((s) => s.key === 'nvm')).toHaveLength(1)
  })

  it('lets a flag win over the environment', () => {
    const { options, settings } = resolveSettings({ nvm: '5' }, { __nvm: '3' })
    expect(options.nvm).toBe(5)
    expect(settingOf(settings, 'nvm')).toEqual({ key: 'nvm', value: 5, source: 'option', from: '--nvm' })
    expect(settings.filter((s) => s.key === 'nvm')).toHaveLength(1)
  })

  it('ignores empty environment values', () => {
    const { options, settings } = resolveSettings({}, { __nvm: '', __nets_vm: '', __nets201: '' })
    expect(options).toEqual({})
    expect(settingOf(settings, 'nvm')).toEqual({ key: 'nvm', value: 4, source: 'default' })
  })

  it('reads the other counts, memory and smp', () => {
    const { options } = resolveSettings({ smp: '2' }, { __nrouters: '1', __ntesters: '2', __mem: '256' })
    expect(options).toEqual({ nrouters: 1, ntesters: 2, mem: 256, smp: 2 })
  })

  it('parses net lists from __nets_vm, __nets_router and --nets-* flags', () => {
    const { options, settings } = resolveSettings({ 'nets-tester': '0,4' }, { __nets_vm: '0,1,3', __nets_router: '0, 1, 2, 3' })
    expect(options.netsVm).toEqual([0, 1, 3])
    expect(options.netsRouter).toEqual([0, 1, 2, 3])
    expect(options.netsTester).toEqual([0, 4])
    expect(settingOf(settings, 'netsVm')).toEqual({ key: 'netsVm', value: [0, 1, 3], source: 'environment', from: '__nets_vm' })
    expect(settingOf(settings, 'netsTester')).toEqual({ key: 'netsTester', value: [0, 4], source: 'option', from: '--nets-tester' })
    const flag = resolveSettings({ 'nets-vm': '0,2' }, { __nets_vm: '0,1,3' })
    expect(flag.options.netsVm).toEqual([0, 2])
  })

  it('reads per-VM nets, memory and smp', () => {
    const { options, settings } = resolveSettings({}, { __nets201: '0,1,3', __mem201: '256', __smp1: '2' })
    expect(options.nets).toEqual({ 201: [0, 1, 3] })
    expect(options.memVm).toEqual({ 201: 256 })
    expect(options.smpVm).toEqual({ 1: 2 })
    expect(options.mem).toBeUndefined()
    expect(options.smp).toBeUndefined()
    expect(settingOf(settings, 'nets[201]')).toEqual({ key: 'nets[201]', value: [0, 1, 3], source: 'environment', from: '__nets201' })
    expect(settingOf(settings, 'memVm[201]')).toEqual({ key: 'memVm[201]', value: 256, source: 'environment', from: '__mem201' })
  })

  it('lets per-VM flags win over the environment', () => {
    const { options, settings } = resolveSettings({ nets201: '0,2', mem3: '512' }, { __nets201: '0,1,3', __nets202: '0,4' })
    expect(options.nets).toEqual({ 201: [0, 2], 202: [0, 4] })
    expect(options.memVm).toEqual({ 3: 512 })
    expect(settings.filter((s) => s.key === 'nets[201]')).toEqual([
      { key: 'nets[201]', value: [0, 2], source: 'option', from: '--nets201' },
    ])
  })

  it('normalises a zero-padded VM number', () => {
    expect(resolveSettings({}, { __nets001: '0,5' }).options.nets).toEqual({ 1: [0, 5] })
  })

  it('makes __net_setup a custom network on the user backend', () => {
    const { options, settings } = resolveSettings({}, { __net_setup: '/x' })
    expect(options.network).toEqual({ base: 'user', netSetup: '/x' })
    expect(settingOf(settings, 'network')).toEqual({
      key: 'network',
      value: { base: 'user', netSetup: '/x' },
      source: 'environment',
      from: '__net_setup',
    })
  })

  it('puts a net-setup on top of the chosen network, the flag winning', () => {
    expect(resolveSettings({}, { XCLUSTER_NETWORK: 'bridge', __net_setup: '/x' }).options.network).toEqual({
      base: 'bridge',
      netSetup: '/x',
    })
    const r = resolveSettings({ network: 'user', 'net-setup': '/y' }, { XCLUSTER_NETWORK: 'bridge', __net_setup: '/x' })
    expect(r.options.network).toEqual({ base: 'user', netSetup: '/y' })
    expect(settingOf(r.settings, 'network')).toEqual({ key: 'network', value: { base: 'user', netSetup: '/y' }, source: 'option', from: '--net-setup' })
  })

  it('takes the network from XCLUSTER_NETWORK or --network', () => {
    expect(resolveSettings({}, { XCLUSTER_NETWORK: 'bridge' }).options.network).toBe('bridge')
    const r = resolveSettings({ network: 'user' }, { XCLUSTER_NETWORK: 'bridge' })
    expect(r.options.network).toBe('user')
    expect(settingOf(r.settings, 'network')).toEqual({ key: 'network', value: 'user', source: 'option', from: '--network' })
  })

  it('passes accel, prefix and name flags through', () => {
    const { options, settings } = resolveSettings({ accel: 'tcg', prefix: 'fd00::1', name: 'lab' }, {})
    expect(options).toEqual({ accel: 'tcg', prefix: 'fd00::1', name: 'lab' })
    expect(settingOf(settings, 'name')).toEqual({ key: 'name', value: 'lab', source: 'option', from: '--name' })
  })

  it('leaves bad text for checkOptions to report', () => {
    const { options } = resolveSettings({ nvm: 'four' }, { __nets_vm: '0,x' })
    expect(options.nvm).toBe('four')
    expect(options.netsVm).toEqual([0, 'x'])
    expect(checkOptions(options).problems).toEqual([
      'Expected `nvm` to be an integer 1-200, got `four`',
      'Expected every net in `netsVm` to be an integer 0-254, got `x`',
    ])
  })

  it('gives options that checkOptions accepts', () => {
    const { options } = resolveSettings({ nvm: '2' }, { __nrouters: '1', __nets201: '0,1,3', __mem201: '256', __net_setup: '/x' })
    const { spec, problems } = checkOptions(options)
    expect(problems).toEqual([])
    expect(spec.vms).toEqual([1, 2, 201])
    expect(spec.nets).toEqual({ 201: [0, 1, 3] })
    expect(spec.memVm).toEqual({ 201: 256 })
    expect(spec.netSetup).toBe('/x')
  })
})

describe("xcluster's per-VM variables for VMs the cluster does not have", () => {
  it('are dropped from the environment with a warning (as xcluster ignored them); the command line keeps them for the check', () => {
    const { options, settings } = resolveSettings({ nets204: '0,1' }, { __nets203: '0,1,3', __mem203: '256', __nets201: '0,1,2,3' })
    const warned: string[] = []
    dropEnvForAbsentVms(options, settings, [1, 2, 201, 202], (l) => warned.push(l))
    expect(options.nets).toEqual({ 201: [0, 1, 2, 3], 204: [0, 1] })
    expect(options.memVm).toEqual({})
    expect(warned.sort()).toEqual([
      '__mem203 is for vm-203, which this cluster does not have: ignored',
      '__nets203 is for vm-203, which this cluster does not have: ignored',
    ])
  })
})
