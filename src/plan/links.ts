// Point-to-point links between two VMs (the `links` option): each pair gets
// a net of its own, numbered from LINK_NET_BASE in the order given, and a NIC
// on each of its two VMs after their other nets. A leaf-spine fabric is a
// list of pairs instead of a net list per VM kept in step by hand. Pure
// (the option's check is ./link-check.ts).
import { LIMITS } from './model.ts'

/** The net of the first link; link i is on net LINK_NET_BASE + i. */
export const LINK_NET_BASE = 200
/** At most this many links (nets 200-254). */
export const MAX_LINKS = LIMITS.net[1] - LINK_NET_BASE + 1

export type Link = [number, number]

/** The nets of VM `vm`'s links, in the order of `links`. */
export function linkNetsOf(links: readonly Link[], vm: number): number[] {
  return links.flatMap((l, i) => (l[0] === vm || l[1] === vm ? [LINK_NET_BASE + i] : []))
}

/** The net of the link between `a` and `b` (either order), or undefined. */
export function linkNetBetween(links: readonly Link[], a: number, b: number): number | undefined {
  const i = links.findIndex((l) => (l[0] === a && l[1] === b) || (l[0] === b && l[1] === a))
  return i < 0 ? undefined : LINK_NET_BASE + i
}

/**
 * The UDP ports of the two ends of link net `net` in user mode (mine, the
 * peer's), `end` 0 or 1 by the pair's order: in the cluster's port block,
 * past its multicast ports (mcastPortBase + 256 + 2 per link: at most
 * mcastPortBase + 365 of the block's 1024).
 */
export function linkPorts(mcastPortBase: number, net: number, end: 0 | 1): [number, number] {
  const first = mcastPortBase + 256 + 2 * (net - LINK_NET_BASE)
  return end === 0 ? [first, first + 1] : [first + 1, first]
}

/** Which end (0, 1) of a link net VM `vm` is, or undefined when `net` is no link of `links`. */
export function linkEnd(links: readonly Link[] | undefined, net: number, vm: number): 0 | 1 | undefined {
  const pair = links?.[net - LINK_NET_BASE]
  if (!pair) return undefined
  return pair[0] === vm ? 0 : pair[1] === vm ? 1 : undefined
}
