// The VM numbers of a start (vmNumbers) and the per-VM machine options (nets,
// memory, CPUs, kernel command line): a start's (checkOptions) and a
// scale-out's, which has its own check of the VM numbers it asks for
// (checkScaleOut).
import { Checker, isInt, show } from '../pure/check.ts'
import { LIMITS, vmName, type ClusterSpec } from '../plan/spec.ts'

/**
 * Extra kernel command line: one line of printable text (a newline or
 * another control character would end or garble the kernel's command line),
 * and short enough that, with the harness's own parameters, it fits the
 * kernel's 2048 bytes (longer is cut off without a word).
 */
export function checkAppend(c: Checker, append: string, appendVm: Record<number, string>): void {
  const bad = /[\x00-\x1f\x7f]/
  if (bad.test(append)) c.add(`\`append\` must be one line of printable text (the kernel command line), got ${JSON.stringify(append)}`)
  for (const [vm, a] of Object.entries(appendVm)) if (bad.test(a)) c.add(`\`appendVm[${vm}]\` must be one line of printable text (the kernel command line), got ${JSON.stringify(a)}`)
  const max = LIMITS.cmdline - LIMITS.cmdlineHarness
  const lines: Array<[string, string]> = [['`append`', append], ...Object.entries(appendVm).map(([vm, a]): [string, string] => [`\`append\` with \`appendVm[${vm}]\``, [append, a].filter(Boolean).join(' ')])]
  for (const [what, line] of lines) {
    if (line.length > max) c.add(`${what} is ${line.length} bytes: the kernel's command line holds ${LIMITS.cmdline}, of which the harness takes up to ${LIMITS.cmdlineHarness}; at most ${max}`)
  }
}

/** The per-VM machine options a cluster and a scale-out share: each VM's nets, memory, CPUs and kernel command line. */
export interface PerVmOptions {
  /** Net list per VM number (xcluster's `__netsNNN`); the first is eth0 and must be 0. */
  nets?: Record<number, number[]>
  /** MiB per VM number (`__memNNN`). */
  memVm?: Record<number, number>
  /** vCPUs per VM number. */
  smpVm?: Record<number, number>
  /** Extra kernel command line per VM number (`__appendNNN`). */
  appendVm?: Record<number, string>
}

/** Check the per-VM machine options (`nets`, `memVm`, `smpVm`, `appendVm`): a start's and a scale-out's. */
export function checkPerVm(c: Checker, opts: PerVmOptions): Pick<ClusterSpec, 'nets' | 'memVm' | 'smpVm' | 'appendVm'> {
  const nets = c.perVm('nets', opts.nets, (k, val) => c.netList(k, val))
  const memVm = c.perVm('memVm', opts.memVm, (k, val) => {
    if (isInt(val) && val >= LIMITS.memMin && val <= LIMITS.memMax) return val
    c.add(`Expected \`${k}\` to be an integer ${LIMITS.memMin}-${LIMITS.memMax} (MiB; the kernel does not boot with less than ${LIMITS.memMin}), got ${show(val)}`)
    return undefined
  })
  const smpVm = c.perVm('smpVm', opts.smpVm, (k, val) => {
    if (isInt(val) && val >= LIMITS.smp[0] && val <= LIMITS.smp[1]) return val
    c.add(`Expected \`${k}\` to be an integer ${LIMITS.smp[0]}-${LIMITS.smp[1]}, got ${show(val)}`)
    return undefined
  })
  const appendVm = c.perVm('appendVm', opts.appendVm, (k, val) => (typeof val === 'string' ? val : void c.add(`Expected \`${k}\` to be a string, got ${show(val)}`)))
  return { nets, memVm, smpVm, appendVm }
}

/**
 * A scale-out's VMs (`nums`) and their own per-VM options: VM numbers
 * 1-240, each once, none running already (`running`), and per-VM options
 * only for them. Every problem listed.
 */
export function checkScaleOut(nums: unknown, overrides: PerVmOptions, running: Set<number>, append: string): { vms: number[]; spec: Pick<ClusterSpec, 'nets' | 'memVm' | 'smpVm' | 'appendVm'>; problems: string[] } {
  const c = new Checker()
  const vms: number[] = []
  if (!Array.isArray(nums) || nums.length === 0) c.add(`Expected the VMs of a scale-out to be a list of VM numbers, got ${show(nums)}`)
  else {
    for (const n of nums) {
      if (!isInt(n) || n < LIMITS.vm[0] || n > LIMITS.vm[1]) c.add(`Expected every VM of a scale-out to be an integer ${LIMITS.vm[0]}-${LIMITS.vm[1]}, got ${show(n)}`)
      else if (vms.includes(n)) c.add(`the scale-out lists ${vmName(n)} twice`)
      else if (running.has(n)) c.add(`${vmName(n)} is already running`)
      else vms.push(n)
    }
  }
  const spec = checkPerVm(c, overrides)
  checkAppend(c, append, spec.appendVm)
  c.vmKeysIn(overrides as Record<string, unknown>, ['nets', 'memVm', 'smpVm', 'appendVm'], new Set(vms))
  return { vms, spec, problems: c.problems }
}

/** The VM numbers: nodes 1..nvm, routers 201.., testers 221.., plus extras. */
export function vmNumbers(c: Checker, counts: { nvm: number; nrouters: number; ntesters: number }, extra: unknown): Set<number> {
  const vms = new Set<number>()
  for (let i = 1; i <= counts.nvm; i++) vms.add(i)
  for (let i = 1; i <= counts.nrouters; i++) vms.add(200 + i)
  for (let i = 1; i <= counts.ntesters; i++) vms.add(220 + i)
  if (extra === undefined) return vms
  if (!Array.isArray(extra)) {
    c.add(`Expected \`extraVms\` to be a list of VM numbers, got ${show(extra)}`)
    return vms
  }
  for (const v of extra) {
    if (!isInt(v) || v < LIMITS.vm[0] || v > LIMITS.vm[1]) {
      c.add(`Expected every VM in \`extraVms\` to be an integer ${LIMITS.vm[0]}-${LIMITS.vm[1]}, got ${show(v)}`)
    } else if (vms.has(v)) {
      c.add(`\`extraVms\` lists ${vmName(v)} twice or again after the counts`)
    } else vms.add(v)
  }
  return vms
}
