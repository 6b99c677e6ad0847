import { describe, expect, it } from 'vitest'
import { age, formatRows, type ClusterRow } from '../../src/cli/ls-command.ts'

const row = (over: Partial<ClusterRow>): ClusterRow => ({ name: 'lab', id: '0123abcd', mode: 'user', vmsAlive: 6, vms: 6, ageSec: 75, owner: 'detached', running: true, ...over })

describe('xc ls', () => {
  it('gives ages in the two largest units', () => {
    expect([age(0), age(59), age(75), age(3600 * 2 + 300), age(86400 * 3 + 3600 * 5 + 7)]).toEqual(['0s', '59s', '1m 15s', '2h 5m', '3d 5h'])
  })

  it('prints a table, and says what removes a dead cluster', () => {
    expect(formatRows([row({}), row({ name: 'keep-1a2b3c', id: 'ffff0000', mode: 'bridge (rootless)', vmsAlive: 0, ageSec: 4000, running: false })], '/h')).toBe([
      'NAME         ID        NETWORK            VMS  AGE     OWNER     STATE',
      'lab          0123abcd  user               6/6  1m 15s  detached  running',
      'keep-1a2b3c  ffff0000  bridge (rootless)  0/6  1h 6m   detached  dead',
      '(dead: what a killed run left; `xc cleanup` removes it)',
      '',
    ].join('\n'))
    // On ssh hosts the VMs are not visible from here.
    expect(formatRows([row({ mode: 'bridge on ssh hosts', vmsAlive: undefined })], '/h')).toContain('  ?/6  ')
    expect(formatRows([], '/h')).toBe('no cluster in /h (start one with `xc start --name=NAME`)\n')
  })
})
