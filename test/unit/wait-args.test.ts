// xc wait's arguments: options before N, or after a command given as one argument.
import { describe, expect, it } from 'vitest'
import { parseWaitArgs } from '../../src/cli/wait-commands.ts'

describe('xc wait arguments', () => {
  it('takes options before N, and everything after N as the command', () => {
    expect(parseWaitArgs(['--name=a', '--timeout', '60', '201', 'ip', 'route', '--fails'])).toEqual({
      values: { name: 'a', timeout: '60' }, fails: false, num: 201, command: ['ip', 'route', '--fails'],
    })
  })

  it('takes options after a command given as one argument', () => {
    expect(parseWaitArgs(['1', 'ip route | grep -q bgp', '--timeout=60', '--budget=bgpSession'])).toEqual({
      values: { timeout: '60', budget: 'bgpSession' }, fails: false, num: 1, command: ['ip route | grep -q bgp'],
    })
    expect(parseWaitArgs(['--fails', '1', 'ping -c1 10.0.0.1'])).toMatchObject({ fails: true, command: ['ping -c1 10.0.0.1'] })
  })

  it('waits for a port or a file without a command', () => {
    expect(parseWaitArgs(['--port=179', '--proto', 'tcp', '201'])).toEqual({ values: { port: '179', proto: 'tcp' }, fails: false, num: 201, command: [] })
    expect(parseWaitArgs(['--file=/run/frr/zebra.pid', '2'])).toMatchObject({ values: { file: '/run/frr/zebra.pid' }, num: 2, command: [] })
  })

  it('refuses an unknown option before N, and N that is not a number', () => {
    expect(() => parseWaitArgs(['--bogus', '1', 'true'])).toThrow('unknown option `--bogus`')
    expect(() => parseWaitArgs(['vm-001', 'true'])).toThrow('expected a VM number, got `vm-001`')
    expect(() => parseWaitArgs(['--timeout'])).toThrow('option `--timeout` needs a value')
  })
})
