// A scale-out's own check: the VM numbers it asks for and their per-VM options.
import { describe, expect, it } from 'vitest'
import { checkScaleOut } from '../../src/cluster/vm-options.ts'

describe('checkScaleOut', () => {
  it('takes new VM numbers and their own per-VM options', () => {
    const r = checkScaleOut([5, 203], { nets: { 203: [0, 1, 3] }, memVm: { 5: 256 } }, new Set([1, 2, 201]), '')
    expect(r.problems).toEqual([])
    expect(r.vms).toEqual([5, 203])
    expect(r.spec).toMatchObject({ nets: { 203: [0, 1, 3] }, memVm: { 5: 256 } })
  })

  it('lists every problem: numbers out of range, twice, running already; options for VMs it does not add; bad values', () => {
    const r = checkScaleOut([0, 5, 5, 2, 'x'], { memVm: { 7: 256, 5: 64 }, appendVm: { 5: 'a\nb' } }, new Set([1, 2]), '')
    expect(r.vms).toEqual([5])
    expect(r.problems).toEqual([
      'Expected every VM of a scale-out to be an integer 1-240, got `0`',
      'the scale-out lists vm-005 twice',
      'vm-002 is already running',
      'Expected every VM of a scale-out to be an integer 1-240, got `x`',
      expect.stringMatching(/^Expected `memVm\[5\]` to be an integer 80-16384/),
      '`appendVm[5]` must be one line of printable text (the kernel command line), got "a\\nb"',
      expect.stringMatching(/^`memVm\[7\]` names vm-007, which the cluster does not have/),
    ])
  })

  it('an empty or missing list is a problem', () => {
    expect(checkScaleOut([], {}, new Set(), '').problems).toEqual(['Expected the VMs of a scale-out to be a list of VM numbers, got `[]`'])
  })
})
