// A topology's part of the options: its defaults under the user's own
// options, and the tools it needs turned on. Pure.
import { show, type Checker } from '../pure/check.ts'
import { getTopology, TOPOLOGIES } from './index.ts'

type Options = Record<string, unknown> & { topology?: unknown; tools?: unknown; nets?: object; memVm?: object; smpVm?: object }

/** `opts` with the topology's defaults under it, and the topology's name (undefined when unknown or unset). */
export function applyTopology<O extends Options>(c: Checker, opts: O): { opts: O; topology?: string } {
  if (opts.topology === undefined) return { opts }
  const t = typeof opts.topology === 'string' ? getTopology(opts.topology) : undefined
  if (!t) {
    c.add(`Unknown topology ${show(opts.topology)}; known: ${Object.keys(TOPOLOGIES).sort().join(', ')}`)
    return { opts }
  }
  if (opts.tools === false) c.add(`topology ${t.name} needs the tools (iproute2, iptables) in the VMs: drop \`tools: false\``)
  const d = t.defaults()
  return {
    topology: t.name,
    opts: {
      ...d,
      ...opts,
      nets: { ...d.nets, ...opts.nets },
      memVm: { ...d.memVm, ...opts.memVm },
      smpVm: { ...d.smpVm, ...opts.smpVm },
      tools: true,
    },
  }
}
