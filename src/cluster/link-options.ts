// The checks of `links` (point-to-point links, ../plan/links.ts) and of
// `stdAddresses` (every NIC, or the nets listed).
import { Checker, isInt, show } from '../pure/check.ts'
import { LINK_NET_BASE, MAX_LINKS, linkNetsOf, type Link } from '../plan/links.ts'
import { LIMITS, vmName } from '../plan/model.ts'

/**
 * Check `links`: pairs of two different VMs of the cluster, no pair twice, at
 * most MAX_LINKS; their nets (200 + i) not used otherwise (`usedNets`: every
 * net the other options give), and no VM past the NIC limit with its links.
 */
export function checkLinks(c: Checker, v: unknown, vms: Set<number>, netsOfVm: (vm: number) => number[], usedNets: Set<number>): Link[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) {
    c.add(`Expected \`links\` to be a list of VM pairs such as [[201, 203], [202, 203]], got ${show(v)}`)
    return []
  }
  const out: Link[] = []
  const seen = new Set<string>()
  v.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((n) => isInt(n))) {
      c.add(`Expected \`links[${i}]\` to be a pair of VM numbers such as [201, 203], got ${show(pair)}`)
      return
    }
    const [a, b] = pair as Link
    const missing = [a, b].filter((n) => !vms.has(n))
    if (missing.length) c.add(`\`links[${i}]\` names ${missing.map((n) => (n >= LIMITS.vm[0] && n <= LIMITS.vm[1] ? vmName(n) : show(n))).join(' and ')}, not in the cluster`)
    else if (a === b) c.add(`\`links[${i}]\` joins ${vmName(a)} to itself`)
    else if (seen.has(`${Math.min(a, b)}-${Math.max(a, b)}`)) c.add(`\`links\` joins ${vmName(a)} and ${vmName(b)} twice`)
    else {
      seen.add(`${Math.min(a, b)}-${Math.max(a, b)}`)
      out.push([a, b])
    }
  })
  if (out.length > MAX_LINKS) c.add(`\`links\` has ${out.length} links; at most ${MAX_LINKS} (nets ${LINK_NET_BASE}-${LIMITS.net[1]})`)
  const taken = [...usedNets].filter((n) => n >= LINK_NET_BASE && n < LINK_NET_BASE + out.length)
  if (taken.length) c.add(`\`links\` use nets ${LINK_NET_BASE}-${LINK_NET_BASE + out.length - 1}, but net${taken.length > 1 ? 's' : ''} ${taken.join(', ')} ${taken.length > 1 ? 'are' : 'is'} given otherwise: use nets below ${LINK_NET_BASE} for the others`)
  for (const vm of vms) {
    const n = netsOfVm(vm).length + linkNetsOf(out, vm).length
    if (n > LIMITS.maxNics) c.add(`${vmName(vm)} has ${n} NICs with its links; at most ${LIMITS.maxNics} NICs per VM`)
  }
  return out
}

/** `stdAddresses`: true, false, or the nets whose NICs get them. */
export function checkStdAddresses(c: Checker, v: unknown): boolean | number[] {
  if (v === undefined || typeof v === 'boolean') return v === true
  if (Array.isArray(v) && v.every((n) => isInt(n) && n >= 1 && n <= LIMITS.net[1])) return [...new Set(v as number[])].sort((a, b) => a - b)
  c.add(`Expected \`stdAddresses\` to be true, false or a list of nets 1-${LIMITS.net[1]} (their NICs get the std addresses, the others come up without one), got ${show(v)}`)
  return false
}
