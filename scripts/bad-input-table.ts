// Prints the README's table of bad inputs and the errors they get, from the
// real validation (so the table cannot drift from the code):
//   npx tsx scripts/bad-input-table.ts
import { checkOptions } from '../src/cluster/options.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BRIDGE_RIGHTS, ROOTLESS_PREFIX } from '../src/cluster/preflight.ts'
import { tunProblemText } from '../src/host/rootless.ts'
import { validateOptions } from '../src/cluster/validate.ts'

const cases: Array<[string, Record<string, unknown>]> = [
  ['nodes out of range', { nvm: 0 }],
  ['too many routers', { nrouters: 21 }],
  ['negative testers', { ntesters: -1 }],
  ['a count as a string', { nvm: '4' }],
  ['a count that is not an integer', { nvm: 1.5 }],
  ['NaN', { nvm: NaN }],
  ['per-VM nets without net 0', { nets: { 3: [1, 2] } }],
  ['a net out of range', { netsVm: [0, 300] }],
  ['a net twice', { netsRouter: [0, 1, 1] }],
  ['more than 16 NICs', { netsVm: Array.from({ length: 17 }, (_, i) => i) }],
  ['a VM number out of range as key', { memVm: { 241: 128 } }],
  ['memory below what the kernel boots with', { mem: 64 }],
  ['a VM twice', { extraVms: [1] }],
  ['a per-VM option for a VM the counts do not make', { nrouters: 2, nets: { 203: [0, 1, 3] } }],
  ['the same for the other per-VM options', { nvm: 4, memVm: { 5: 256 }, smpVm: { 5: 2 }, appendVm: { 5: 'quiet' }, overlaysVm: { 5: ['ovl'] }, packagesVm: { 5: ['frr'] } }],
  ['a misspelled option', { nrouter: 3 }],
  ['another', { nvms: 4 }],
  ['an option near none', { colour: 'red' }],
  ['rc failures neither reported nor failing', { rcFailures: 'warn' }],
  ['bad network', { network: 'bridged' }],
  ['net-setup that is not a function or path', { network: { netSetup: 42 } }],
  ['bad accel', { accel: 'KVM' }],
  ['rootless that is not a boolean', { rootless: 'yes' }],
  ['user-mode nets that are neither private nor shared', { userNets: 'open' }],
  ['extra kernel command line with a newline', { append: 'quiet\ninit=/bin/sh' }],
  ['extra kernel command line longer than the kernel takes', { append: 'x'.repeat(1800) }],
  ['a snapshot with a net-setup hook', { snapshot: true, network: { base: 'user', netSetup: '/usr/local/bin/net-setup.sh' } }],
  ['an IPv6 prefix that gives no valid address', { prefix: '1::2::3' }],
  ['a cluster name for file and interface names', { name: 'a name with spaces and more than 32 characters' }],
  ['a package name Debian cannot have', { packages: ['FRR', 'frr'] }],
  ['a package name apt reads as "remove"', { packages: ['frr-'] }],
  ['an ssh host that is not user@address', { network: 'bridge', hosts: { a: { ssh: '10.0.0.2' } } }],
  ['an ssh host directory of /', { network: 'bridge', hosts: { a: { ssh: 'root@10.0.0.2', dir: '/' } } }],
  ['ssh hosts mixed with simulated ones', { network: 'bridge', hosts: { a: [1], b: { ssh: 'root@10.0.0.3' } } }],
  ['unknown topology', { topology: 'mesh' }],
  ['impairment with a bad value', { tools: true, impairments: { 1: { 1: { lossPercent: 150 } } } }],
  ['impairments without the tools', { impairments: { 1: { 1: { delayMs: 10 } } } }],
  ['reorder without delay', { tools: true, impairments: { 1: { 1: { reorderPercent: 10 } } } }],
]
const io: Array<[string, Record<string, unknown>]> = [
  ['an overlay path that does not exist', { overlays: ['/nonexistent/ovl'] }],
  ['a kernel path that does not exist', { kernel: '/nonexistent/vmlinuz', modules: '/nonexistent/modules' }],
  ['a net-setup script that does not exist', { network: { netSetup: '/nonexistent/net-setup.sh' } }],
  ['a .tar overlay that is not a tar', { overlays: ['fixtures/bad/not-a-tar.tar'] }],
]
// Long strings are shown by their length.
const show = (o: unknown): string => JSON.stringify(o, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN' : typeof v === 'string' && v.length > 100 ? `<${v.length} bytes>` : v))
const md = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
console.log('| input | options | error |\n| --- | --- | --- |')
for (const [what, o] of cases) {
  const { problems } = checkOptions(o as never)
  console.log(`| ${what} | \`${md(show(o))}\` | ${md(problems.join(' / '))} |`)
}
for (const [what, o] of io) {
  try {
    validateOptions(o as never)
  } catch (e) {
    const problems = (e as { problems?: string[] }).problems ?? [String(e)]
    console.log(`| ${what} | \`${md(show(o))}\` | ${md(problems.filter((p) => !p.startsWith('No VM image')).join(' / '))} |`)
  }
}
/** The problems validateOptions lists for `o` under `env` (changes of process.env, undone after). */
function hostProblems(o: Record<string, unknown>, env: Record<string, string>): string[] {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)
  try {
    validateOptions(o as never)
    return []
  } catch (e) {
    return (e as { problems?: string[] }).problems ?? [String(e)]
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v
  }
}
const qemu = hostProblems({}, { PATH: '' }).filter((p) => p.includes('qemu'))
console.log(`| QEMU not installed | \`PATH\` without it | ${md(qemu.join(' / '))} |`)
console.log(`| bridge mode rootless, /dev/net/tun closed to the user | \`{"network":"bridge"}\` as alice, tun 0600 | ${md(ROOTLESS_PREFIX + tunProblemText('0600', 'EACCES', 'alice'))} |`)
console.log(`| bridge mode, rootless: false, without rights | \`{"network":"bridge","rootless":false}\` as a user | ${md(BRIDGE_RIGHTS)} |`)
const fresh = mkdtempSync(join(tmpdir(), 'xc-table-'))
const image = hostProblems({ home: fresh }, {}).map((p) => p.replaceAll(fresh, '<home>'))
rmSync(fresh, { recursive: true, force: true })
console.log(`| no image | a fresh \`XCLUSTER_HOME\` | ${md(image.join(' / '))} |`)
