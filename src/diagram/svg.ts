// A picture of a cluster's topology as SVG, from its plan. Pure: no I/O.
//
// Layout: one column of VM boxes, grouped by role (nodes, routers, testers).
// Each net is a vertical coloured line (a bus): the internal net 0, which
// every VM is on, runs thin and grey on the left; the other nets run to the
// right of the boxes, in net order, labelled at top and bottom. Each NIC is a
// row in its VM's box (ifname, IPv4, IPv6) with a horizontal connector from
// that row to its net's bus, ending in a dot. A connector that passes another
// bus breaks it (white halo), so only a dot means "attached".
import type { ClusterPlan, NicPlan, VmPlan } from '../plan/plan.ts'
import type { Role } from '../plan/spec.ts'
import type { DiagramExtras } from '../plan/diagram.ts'

export type { DiagramExtras }

export interface DiagramOptions {
  title?: string
  extra?: DiagramExtras
  /** Leave out the internal net 0 (bus and connectors; eth0 stays listed). */
  hideNet0?: boolean
}

const PALETTE = [
  '#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#17becf',
  '#e377c2', '#8c564b', '#7f7f00', '#393b79', '#e6ab02', '#1b9e77',
]
const NET0 = '#a0a0a0'
const ROLE_FILL: Record<Role, string> = { node: '#eef4fc', router: '#fdf3e3', tester: '#eef8ec' }
const ROLE_TITLE: Record<Role, string> = { node: 'nodes (1-200)', router: 'routers (201-220)', tester: 'testers (221-240)' }
const ROLES: Role[] = ['node', 'router', 'tester']

const FONT = 'font-family="DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"'
const M = 20 // outer margin
const ROW = 18 // one NIC row
const XROW = 16 // one extra-label row
const HEAD = 24 // VM box header
const GAP = 12 // between boxes
const STUB = 36 // shortest connector

/** XML-escape text and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

/** A generous estimate of the width of `s` in a sans-serif font of `px` (DejaVu Sans is wide). */
export function textWidth(s: string, px = 12): number {
  let em = 0
  for (const c of s) em += /[0-9]/.test(c) ? 0.64 : /[.:,;|!' il]/.test(c) ? 0.34 : /[A-Zmw@]/.test(c) ? 0.82 : 0.62
  return Math.ceil(em * px)
}

const n = (x: number): string => String(Math.round(x * 10) / 10)

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}"${attrs ? ' ' + attrs : ''}>${xmlEscape(s)}</text>`
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string, width: number): string {
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${stroke}" stroke-width="${width}"/>`
}

const netLabel = (net: number): string => (net === 0 ? 'internal (net 0)' : `net ${net}`)
const netCidr = (net: number): string => `192.168.${net}.0/24`

/** One row inside a VM box: a NIC (with a connector) or an extra label (without). */
interface Row {
  nic?: NicPlan
  ifname: string
  main: string
  sub: string
}

function rowsOf(vm: VmPlan, extra: Array<{ ifname: string; label: string }>): Row[] {
  const rows: Row[] = []
  for (const nic of vm.nics) {
    rows.push({ nic, ifname: nic.ifname, main: nic.ipv4, sub: nic.ipv6 })
    for (const e of extra) if (e.ifname === nic.ifname) rows.push({ ifname: '', main: e.label, sub: '' })
  }
  const own = new Set(vm.nics.map((x) => x.ifname))
  for (const e of extra) if (!own.has(e.ifname)) rows.push({ ifname: e.ifname, main: e.label, sub: '' })
  return rows
}

const rowHeight = (r: Row): number => (r.nic ? ROW : XROW)
const boxHeight = (rows: Row[]): number => HEAD + rows.reduce((h, r) => h + rowHeight(r), 0) + 6

/** The topology of `plan` as a standalone SVG document. Deterministic. */
export function topologySvg(plan: ClusterPlan, opts: DiagramOptions = {}): string {
  const extra = opts.extra ?? {}
  const showNet0 = !opts.hideNet0 && plan.nets.includes(0)
  const title = opts.title ?? `xcluster "${plan.name}" (${plan.id})`
  const subtitle = `${plan.vms.length} VMs, ${plan.nets.length} nets, network: ${plan.network}, IPv6 prefix ${plan.prefix}`
  const others = plan.nets.filter((k) => k !== 0)
  const colour = new Map<number, string>([[0, NET0], ...others.map((k, i): [number, string] => [k, PALETTE[i % PALETTE.length]])])

  const groups = ROLES.map((role) => ({ role, vms: plan.vms.filter((v) => v.role === role).sort((a, b) => a.num - b.num) }))
    .filter((g) => g.vms.length > 0)
  const rows = new Map(plan.vms.map((vm) => [vm.name, rowsOf(vm, extra.addresses?.[vm.name] ?? [])]))

  // Column widths inside a box: swatch, ifname, main text, small sub text.
  const all = [...rows.values()].flat()
  const ifW = Math.max(30, ...all.map((r) => textWidth(r.ifname)))
  const mainW = Math.max(60, ...all.map((r) => textWidth(r.main)))
  const subW = Math.max(0, ...all.map((r) => textWidth(r.sub, 10)))
  const headW = Math.max(0, ...plan.vms.map((v) => textWidth(v.name, 13) + textWidth(`${v.role}, ${v.mem} MiB`, 10) + 16))
  const boxW = Math.max(headW, 8 + 10 + 6 + ifW + 8 + mainW + (subW ? 10 + subW : 0) + 8) + 8

  // Horizontal positions.
  const labelW = Math.max(0, ...plan.nets.map((k) => Math.max(textWidth(netLabel(k), 12), textWidth(netCidr(k), 11)))) + 14
  const bus0X = M + (showNet0 ? textWidth(netLabel(0)) / 2 + 4 : 0)
  const boxX = showNet0 ? bus0X + STUB : M
  const boxR = boxX + boxW
  // Many nets: labels alternate between two heights, so buses can sit closer.
  const stagger = others.length > 4
  const pitch = stagger ? Math.ceil(labelW / 2) + 10 : labelW
  const lift = (k: number): number => (stagger && others.indexOf(k) % 2 === 1 ? 32 : 0)
  const busX = new Map<number, number>([[0, bus0X]])
  others.forEach((k, i) => busX.set(k, boxR + STUB + labelW / 2 + i * pitch))
  const right = others.length ? boxR + STUB + labelW + pitch * (others.length - 1) : boxR
  const width = Math.ceil(Math.max(right + M, M + textWidth(title, 16) + M, M + textWidth(subtitle, 11) + M))

  // Vertical positions.
  const titleY = M + 16
  const busTop = titleY + 20 + 40 + (stagger ? 32 : 0) // label lines above the buses
  let y = busTop + 6
  const placed: Array<{ vm: VmPlan; y: number; h: number }> = []
  const headings: string[] = []
  for (const g of groups) {
    y += 16
    headings.push(text(boxX, y, ROLE_TITLE[g.role], 'font-size="12" font-style="italic" fill="#666"'))
    y += 8
    for (const vm of g.vms) {
      const h = boxHeight(rows.get(vm.name) ?? [])
      placed.push({ vm, y, h })
      y += h + GAP
    }
    y += 4
  }
  const busBottom = y
  const notes = extra.notes ?? []
  const notesY = busBottom + 54 + (stagger ? 32 : 0)
  const height = Math.ceil(notesY - 14 + (notes.length ? 10 + notes.length * 16 : 0) + M)

  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`)
  out.push(`<title>${xmlEscape(title)}</title>`)
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`)
  out.push(text(M, titleY, title, 'font-size="16" font-weight="bold" fill="#222"'))
  out.push(text(M, titleY + 18, subtitle, 'font-size="11" fill="#666"'))

  // VM boxes, NIC rows and connectors; `span` is where each bus has attachments.
  const vmOut: string[] = []
  const span = new Map<number, [number, number]>()
  for (const { vm, y: top, h } of placed) {
    const tip = `${vm.name} (${vm.role}) ${vm.mem} MiB, ${vm.smp} CPU; telnet 127.0.0.1:${vm.telnetPort}, ssh 127.0.0.1:${vm.sshPort}`
    vmOut.push(`<g class="vm-group" data-vm="${xmlEscape(vm.name)}"><title>${xmlEscape(tip)}</title>`)
    vmOut.push(`<rect class="vm" x="${n(boxX)}" y="${n(top)}" width="${n(boxW)}" height="${n(h)}" rx="6" fill="${ROLE_FILL[vm.role]}" stroke="#555" stroke-width="1.2"/>`)
    vmOut.push(text(boxX + 8, top + 17, vm.name, 'font-size="13" font-weight="bold" fill="#222"'))
    vmOut.push(text(boxR - 8, top + 17, `${vm.role}, ${vm.mem} MiB`, 'font-size="10" fill="#777" text-anchor="end"'))
    vmOut.push(line(boxX + 1, top + HEAD - 2, boxR - 1, top + HEAD - 2, '#ccc', 1), '</g>')
    let ry = top + HEAD
    for (const r of rows.get(vm.name) ?? []) {
      const cy = ry + rowHeight(r) / 2
      const base = cy + 4
      const ifX = boxX + 8 + 10 + 6
      const mainX = ifX + ifW + 8
      if (r.nic) {
        const nic = r.nic
        const c = colour.get(nic.net)!
        const tip = `${vm.name} ${nic.ifname}: net ${nic.net}, ${nic.ipv4}/24, ${nic.ipv6}/120, mac ${nic.mac}`
        vmOut.push(`<g class="nic" data-vm="${xmlEscape(vm.name)}" data-net="${nic.net}"><title>${xmlEscape(tip)}</title>`)
        const drawn = nic.net !== 0 || showNet0
        if (drawn) {
          const [x1, x2] = nic.net === 0 ? [bus0X, boxX] : [boxR, busX.get(nic.net)!]
          if (nic.net !== 0) vmOut.push(line(x1, cy, x2, cy, '#ffffff', 7))
          vmOut.push(line(x1, cy, x2, cy, c, nic.net === 0 ? 1 : 2))
          const dx = nic.net === 0 ? x1 : x2
          const [lo, hi] = span.get(nic.net) ?? [cy, cy]
          span.set(nic.net, [Math.min(lo, cy), Math.max(hi, cy)])
          vmOut.push(`<circle cx="${n(dx)}" cy="${n(cy)}" r="${nic.net === 0 ? 3 : 5}" fill="${c}" stroke="#ffffff" stroke-width="1"/>`)
        }
        vmOut.push(`<rect x="${n(boxX + 8)}" y="${n(cy - 5)}" width="10" height="10" rx="2" fill="${c}"/>`)
        vmOut.push(text(ifX, base, nic.ifname, 'fill="#333"'))
        vmOut.push(text(mainX, base, r.main, 'fill="#111"'))
        vmOut.push(text(mainX + mainW + 10, base, r.sub, 'font-size="10" fill="#888"'), '</g>')
      } else {
        vmOut.push(text(ifX, base, r.ifname, 'fill="#555" font-style="italic"'))
        vmOut.push(text(mainX, base, r.main, 'fill="#555" font-style="italic"'))
      }
      ry += rowHeight(r)
    }
  }

  // Buses under the connectors: solid where VMs attach, a thin dashed leader
  // out to the labels at top and bottom.
  for (const k of showNet0 ? plan.nets : others) {
    const x = busX.get(k)!
    const c = colour.get(k)!
    const [lo, hi] = span.get(k) ?? [busTop, busBottom]
    const up = lift(k)
    const a = `text-anchor="middle" fill="${k === 0 ? '#777' : c}"`
    out.push(`<g class="net" data-net="${k}"><title>${xmlEscape(`${netLabel(k)}: ${netCidr(k)}, ${plan.prefix}:192.168.${k}.0/120`)}</title>`)
    out.push(line(x, busTop - up, x, lo, c, 1).replace('/>', ' stroke-dasharray="3 3"/>'))
    out.push(line(x, hi, x, busBottom + up, c, 1).replace('/>', ' stroke-dasharray="3 3"/>'))
    out.push(line(x, lo - 6, x, hi + 6, c, k === 0 ? 1.5 : 4))
    out.push(text(x, busTop - up - 20, netLabel(k), `${a} font-weight="bold"`), text(x, busTop - up - 6, netCidr(k), `${a} font-size="11"`))
    out.push(text(x, busBottom + up + 16, netLabel(k), `${a} font-weight="bold"`), text(x, busBottom + up + 30, netCidr(k), `${a} font-size="11"`))
    out.push('</g>')
  }
  out.push(...headings, ...vmOut)

  notes.forEach((note, i) => out.push(text(M, notesY + i * 16, note, 'font-size="12" fill="#444"')))
  out.push('</svg>')
  return out.join('\n') + '\n'
}
