import { describe, expect, it } from 'vitest'
import { planOf } from '../../src/cluster/plan-of.ts'
import { textWidth, topologySvg, xmlEscape } from '../../src/diagram/svg.ts'
import type { ClusterOptions } from '../../src/cluster/options.ts'
import type { ClusterPlan } from '../../src/plan/plan.ts'

// A tiny XML parser, enough for what topologySvg emits: elements, quoted
// attributes, text with entities. It throws on anything not well-formed.
interface El {
  name: string
  attrs: Record<string, string>
  children: El[]
  text: string
}

const ENTITY = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g
const unescape = (s: string): string =>
  s.replace(ENTITY, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e] ?? String.fromCodePoint(Number(e.slice(1).replace(/^x/, '0x'))))

function checkText(s: string, where: string): void {
  if (s.includes('<')) throw new Error(`raw < in ${where}: ${JSON.stringify(s)}`)
  if (s.replace(ENTITY, '').includes('&')) throw new Error(`raw & in ${where}: ${JSON.stringify(s)}`)
}

function parseXml(xml: string): El {
  const root: El = { name: '#document', attrs: {}, children: [], text: '' }
  const stack: El[] = [root]
  let i = 0
  while (i < xml.length) {
    const lt = xml.indexOf('<', i)
    const chunk = xml.slice(i, lt === -1 ? xml.length : lt)
    checkText(chunk, `text of <${stack[stack.length - 1].name}>`)
    if (chunk.includes('>')) throw new Error(`raw > in text: ${JSON.stringify(chunk)}`)
    if (stack.length === 1 && chunk.trim() !== '') throw new Error(`text outside the root: ${JSON.stringify(chunk)}`)
    stack[stack.length - 1].text += unescape(chunk)
    if (lt === -1) break
    const gt = xml.indexOf('>', lt)
    if (gt === -1) throw new Error(`unterminated tag at ${lt}`)
    const tag = xml.slice(lt + 1, gt)
    i = gt + 1
    const close = /^\/([A-Za-z_][\w:.-]*)\s*$/.exec(tag)
    if (close) {
      const top = stack.pop()
      if (!top || top === root || top.name !== close[1]) throw new Error(`</${close[1]}> closes <${top?.name}>`)
      continue
    }
    const open = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"]*")*)\s*(\/?)$/.exec(tag)
    if (!open) throw new Error(`malformed tag (unquoted attribute?): <${tag}>`)
    const el: El = { name: open[1], attrs: {}, children: [], text: '' }
    for (const m of open[2].matchAll(/([A-Za-z_][\w:.-]*)="([^"]*)"/g)) {
      if (m[1] in el.attrs) throw new Error(`duplicate attribute ${m[1]} in <${el.name}>`)
      checkText(m[2], `attribute ${m[1]} of <${el.name}>`)
      el.attrs[m[1]] = unescape(m[2])
    }
    if (stack.length === 1 && root.children.length > 0) throw new Error('more than one root element')
    stack[stack.length - 1].children.push(el)
    if (!open[3]) stack.push(el)
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`)
  if (root.children.length !== 1) throw new Error('no root element')
  return root.children[0]
}

const walk = (el: El): El[] => [el, ...el.children.flatMap(walk)]
const texts = (svg: El): string[] => walk(svg).filter((e) => e.name === 'text').map((e) => e.text)

const plan = (opts: ClusterOptions): ClusterPlan => planOf(opts, { id: 'abc12345' })

const DIAMOND: ClusterOptions = {
  name: 'x-diamond',
  nvm: 4,
  nrouters: 6,
  ntesters: 1,
  nets: { 201: [0, 1, 3, 4], 202: [0, 2, 7, 8], 203: [0, 3, 5, 9, 11], 204: [0, 4, 6, 9, 12], 205: [0, 5, 7, 10, 12], 206: [0, 6, 8, 10, 11] },
}

interface Box { x: number; y: number; w: number; h: number }
const overlaps = (a: Box, b: Box): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
const num = (el: El, a: string): number => Number(el.attrs[a])

/** Estimated boxes of the drawn text (not <title> tooltips), from its anchor and size. */
function textBoxes(svg: El): Array<Box & { s: string }> {
  return walk(svg).filter((e) => e.name === 'text').map((e) => {
    const size = Number(e.attrs['font-size'] ?? 12)
    const w = textWidth(e.text, size)
    const anchor = e.attrs['text-anchor'] ?? 'start'
    const x = num(e, 'x') - (anchor === 'middle' ? w / 2 : anchor === 'end' ? w : 0)
    return { s: e.text, x, y: num(e, 'y') - size * 0.8, w, h: size }
  })
}

describe('xmlEscape', () => {
  it('escapes the five XML specials', () => {
    expect(xmlEscape(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;')
  })
})

describe('the XML checker', () => {
  it('accepts well-formed XML and rejects the usual mistakes', () => {
    expect(parseXml('<a x="1"><b/>t &amp; u<c y="&lt;"></c></a>').children.length).toBe(2)
    expect(() => parseXml('<a><b></a></b>')).toThrow(/closes/)
    expect(() => parseXml('<a x=1></a>')).toThrow(/malformed/)
    expect(() => parseXml('<a>x & y</a>')).toThrow(/raw &/)
    expect(() => parseXml('<a><b></a>')).toThrow()
    expect(() => parseXml('<a></a><b></b>')).toThrow(/root/)
  })
})

describe('topologySvg', () => {
  const xnet = plan({ ntesters: 2 })

  it('is well-formed XML: one <svg> root with xmlns, viewBox and positive size', () => {
    const svg = parseXml(topologySvg(xnet))
    expect(svg.name).toBe('svg')
    expect(svg.attrs.xmlns).toBe('http://www.w3.org/2000/svg')
    expect(num(svg, 'width')).toBeGreaterThan(0)
    expect(num(svg, 'height')).toBeGreaterThan(0)
    expect(svg.attrs.viewBox).toBe(`0 0 ${svg.attrs.width} ${svg.attrs.height}`)
  })

  it('shows every VM, every net and every IPv4 address of the default cluster', () => {
    expect(xnet.vms.map((v) => v.name)).toEqual(['vm-001', 'vm-002', 'vm-003', 'vm-004', 'vm-201', 'vm-202', 'vm-221', 'vm-222'])
    const svg = parseXml(topologySvg(xnet))
    const shown = texts(svg)
    for (const vm of xnet.vms) {
      expect(shown).toContain(vm.name)
      for (const nic of vm.nics) {
        expect(shown).toContain(nic.ipv4)
        expect(shown).toContain(nic.ipv6)
      }
    }
    expect(shown).toContain('internal (net 0)')
    for (const k of [0, 1, 2]) expect(shown).toContain(`192.168.${k}.0/24`)
    for (const k of [1, 2]) expect(shown).toContain(`net ${k}`)
    // A connector with a dot for every NIC.
    const dots = walk(svg).filter((e) => e.name === 'g' && e.attrs.class === 'nic').flatMap((g) => g.children.filter((c) => c.name === 'circle'))
    expect(dots.length).toBe(xnet.vms.reduce((n, v) => n + v.nics.length, 0))
  })

  it('escapes text', () => {
    const out = topologySvg(xnet, {
      title: `<script>alert("x")</script> & 'co'`,
      extra: { addresses: { 'vm-201': [{ ifname: 'br<1>', label: '169.254.3.1/24 & "more"' }] }, notes: ['a < b && c > d'] },
    })
    expect(out).not.toContain('<script>')
    expect(out).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;co&apos;')
    const shown = texts(parseXml(out))
    expect(shown).toContain(`<script>alert("x")</script> & 'co'`)
    expect(shown).toContain('br<1>')
    expect(shown).toContain('169.254.3.1/24 & "more"')
    expect(shown).toContain('a < b && c > d')
  })

  it('shows extra addresses: under a NIC it has, or in a row of their own', () => {
    const shown = texts(parseXml(topologySvg(xnet, {
      extra: { addresses: { 'vm-201': [{ ifname: 'eth1', label: '10.0.0.1/24' }, { ifname: 'br1', label: '169.254.3.1/24' }] } },
    })))
    expect(shown).toContain('10.0.0.1/24')
    expect(shown).toContain('br1')
    expect(shown).toContain('169.254.3.1/24')
  })

  it('leaves out the net 0 bus with hideNet0, but keeps listing eth0', () => {
    const svg = parseXml(topologySvg(xnet, { hideNet0: true }))
    const nets = walk(svg).filter((e) => e.name === 'g' && e.attrs.class === 'net').map((e) => e.attrs['data-net'])
    expect(nets).toEqual(['1', '2'])
    expect(texts(svg)).toContain('192.168.0.1')
  })

  it('is deterministic', () => {
    expect(topologySvg(xnet)).toBe(topologySvg(plan({ ntesters: 2 })))
    const d = plan(DIAMOND)
    expect(topologySvg(d, { title: 't' })).toBe(topologySvg(plan(DIAMOND), { title: 't' }))
  })

  for (const ntesters of [1, 2]) {
    it(`lays out an x-diamond-like plan (${ntesters} tester(s), 13 nets) without overlaps`, () => {
      const d = plan({ ...DIAMOND, ntesters })
      expect(d.nets.length).toBe(13)
      expect(d.vms.length).toBe(10 + ntesters)
      const svg = parseXml(topologySvg(d, { extra: { notes: ['nets 3-12 form the diamond'] } }))
      const W = num(svg, 'width')
      const H = num(svg, 'height')
      expect(W).toBeGreaterThan(0)
      expect(H).toBeGreaterThan(0)

      const vms = walk(svg).filter((e) => e.name === 'rect' && e.attrs.class === 'vm')
        .map((e): Box => ({ x: num(e, 'x'), y: num(e, 'y'), w: num(e, 'width'), h: num(e, 'height') }))
      expect(vms.length).toBe(d.vms.length)
      for (const [i, a] of vms.entries()) {
        expect(a.w).toBeGreaterThan(0)
        expect(a.h).toBeGreaterThan(0)
        expect(a.x >= 0 && a.y >= 0 && a.x + a.w <= W && a.y + a.h <= H).toBe(true)
        for (const b of vms.slice(i + 1)) expect(overlaps(a, b), JSON.stringify([a, b])).toBe(false)
      }

      // No two labels overlap (by the same width estimate the layout uses), and all are inside.
      const labels = textBoxes(svg)
      for (const [i, a] of labels.entries()) {
        expect(a.x >= 0 && a.y >= 0 && a.x + a.w <= W && a.y + a.h <= H, a.s).toBe(true)
        for (const b of labels.slice(i + 1)) expect(overlaps(a, b), `${a.s} / ${b.s}`).toBe(false)
      }

      // Every NIC's dot sits on its net's bus.
      const busX = new Map(walk(svg).filter((e) => e.name === 'g' && e.attrs.class === 'net')
        .map((g) => [g.attrs['data-net'], num(g.children.find((c) => c.name === 'line')!, 'x1')]))
      for (const g of walk(svg).filter((e) => e.name === 'g' && e.attrs.class === 'nic')) {
        const dot = g.children.find((c) => c.name === 'circle')!
        expect(num(dot, 'cx')).toBe(busX.get(g.attrs['data-net']))
      }
    })
  }
})
