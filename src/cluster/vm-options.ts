// The options about which VMs there are and what each one's kernel is told:
// the VM numbers from the counts and extraVms, and the extra kernel command
// line. Pure; composed by ./options.ts's checkOptions.
import { isInt, show, type Checker } from '../plan/check.ts'
import { LIMITS, vmName } from '../plan/spec.ts'

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
