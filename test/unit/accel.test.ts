import { describe, expect, it } from 'vitest'
import { cpuHasVirt } from '../../src/qemu/accel.ts'

const cpu = (flags: string, extra = ''): string =>
  [
    'processor\t: 0',
    'vendor_id\t: GenuineIntel',
    'model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz',
    `flags\t\t: ${flags}`,
    extra,
    'bogomips\t: 4400.00',
    '',
    'processor\t: 1',
    `flags\t\t: ${flags}`,
    '',
  ].join('\n')

const BASE = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx'

describe('cpuHasVirt', () => {
  it('is true with the Intel vmx flag', () => {
    expect(cpuHasVirt(cpu(`${BASE} vmx est tm2 ssse3`))).toBe(true)
  })

  it('is true with the AMD svm flag, also as the last flag', () => {
    expect(cpuHasVirt(cpu(`${BASE} svm`).replace(/GenuineIntel/, 'AuthenticAMD'))).toBe(true)
  })

  it('is false without vmx or svm', () => {
    expect(cpuHasVirt(cpu(`${BASE} hypervisor lahf_lm`))).toBe(false)
  })

  it('is false when vmx or svm is only part of another flag', () => {
    expect(cpuHasVirt(cpu(`${BASE} svm_lock vmx_ept xvmx`))).toBe(false)
  })

  it('looks only at the flags lines', () => {
    expect(cpuHasVirt(cpu(BASE, 'vmx flags\t: vnmi preemption_timer'))).toBe(false)
    expect(cpuHasVirt(`model name\t: vmx svm\nflags\t\t: ${BASE}\n`)).toBe(false)
  })

  it('is false for empty text', () => {
    expect(cpuHasVirt('')).toBe(false)
  })
})
