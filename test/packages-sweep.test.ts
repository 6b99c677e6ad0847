// Debian packages as installed, checked against Debian itself: one layer of
// fourteen network packages (and their 160-odd dependencies) is compared
// with a real install of the same names made by mmdebstrap from the same
// sources (maintainer scripts run for real there, in a chroot). Every
// conffile each .deb lists is in the layer as Debian leaves it (a regular
// file, or the link it ships, with the install's owner and mode), every path
// the packages own has the install's kind, owner and mode, and no path a
// maintainer script names became a directory; then one VM with the layer
// runs each daemon's own check of its configuration. A wrong emulation here
// is a daemon that reads a directory as its config (bird2's bird.conf was
// one) or runs without the files Debian gives it.
//
// Cost, measured on these 2-core machines: the layer 14-47 s to build
// (162 packages, 324 MiB), mmdebstrap 33 s (122 s under a load of 13),
// the VM 9 s to boot with it.
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startCluster } from '../src/cluster/start-cluster.ts'
import type { RunningCluster } from '../src/cluster/running-cluster.ts'
import { xclusterHome } from '../src/host/home.ts'
import { aptRoot, debFile } from '../src/packages/apt.ts'
import { scanFileActions } from '../src/packages/file-actions.ts'
import { packageLayer, type PackageLayer } from '../src/packages/layer.ts'
import { ext4Tree, idNames, type Ext4Entry } from './helpers/ext4-tree.ts'
import { leftovers } from './helpers/host.ts'

const NAMES = ['frr', 'bird2', 'keepalived', 'haproxy', 'strongswan', 'openvswitch-switch', 'lldpd', 'isc-dhcp-server', 'radvd', 'dnsmasq', 'nginx', 'conntrackd', 'ipvsadm', 'iperf3']

/** Paths a layer leaves out by design: documentation, the merged /usr's top links, what the VM makes at boot (/run). */
const NOT_IN_LAYERS = /^\/(usr\/share\/(doc|man|info|locale|lintian|bug)(\/|$)|(bin|sbin|lib|lib64|\.)$|run(\/|$)|var\/run(\/|$))/

let layer: PackageLayer
let tree: Map<string, Ext4Entry>
let ref = ''
let layerNames: { u: Map<number, string>; g: Map<number, string> }
let refNames: { u: Map<number, string>; g: Map<number, string> }

/** kind, mode, owner names and a link's target: what must be the same in the layer and the install. */
type Shown = string
function inLayer(path: string): Shown | undefined {
  const e = tree.get(path.replace(/^\/(bin|sbin|lib|lib64)\//, '/usr/$1/'))
  if (!e) return undefined
  return `${e.kind} ${e.mode.toString(8)} ${layerNames.u.get(e.uid) ?? e.uid}:${layerNames.g.get(e.gid) ?? e.gid}${e.kind === 'link' && e.target ? ` -> ${e.target}` : ''}`
}
function inRef(path: string): Shown | undefined {
  const p = join(ref, path)
  let st
  try {
    st = lstatSync(p)
  } catch {
    return undefined
  }
  const kind = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other'
  // Long link targets are not shown by debugfs (not "fast" links): compare those by kind only.
  const target = kind === 'link' ? readlinkSync(p) : ''
  return `${kind} ${(st.mode & 0o7777).toString(8)} ${refNames.u.get(st.uid) ?? st.uid}:${refNames.g.get(st.gid) ?? st.gid}${target && target.length < 60 ? ` -> ${target}` : ''}`
}
const ids = (text: string): Map<number, string> => idNames(text)

/** The packages of the layer, as dpkg names them in the install's database. */
function infoFile(name: string, ext: string): string | undefined {
  for (const n of [name, `${name}:amd64`]) {
    const f = join(ref, 'var/lib/dpkg/info', `${n}.${ext}`)
    if (existsSync(f)) return f
  }
  return undefined
}

/** A real install of NAMES by mmdebstrap from the host's sources, given the layer's .debs (apt checks them again): it downloads only the essential set besides. */
async function reference(l: PackageLayer, dir: string): Promise<void> {
  const sources = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'].find((f) => existsSync(f) && readFileSync(f, 'utf8').trim())
  const debs = l.manifest.packages.map((p) => `'${join(aptRoot(xclusterHome()).debs, debFile(p))}'`)
  const hook = `mkdir -p "$1/var/cache/apt/archives" && cp ${debs.join(' ')} "$1/var/cache/apt/archives/"`
  await execa('mmdebstrap', ['--quiet', '--variant=essential', `--include=adduser,${NAMES.join(',')}`, '--aptopt=APT::Install-Recommends "false"', `--setup-hook=${hook}`, 'bookworm', dir, ...(sources ? [sources] : [])])
}

beforeAll(async () => {
  ref = mkdtempSync(join(tmpdir(), 'xc-debian-ref-'))
  rmSync(ref, { recursive: true })
  const t0 = Date.now()
  const built = await packageLayer(xclusterHome(), NAMES)
  const t1 = Date.now()
  await reference(built, ref)
  console.log(`packages sweep: layer ${((t1 - t0) / 1000).toFixed(1)} s${built.cached ? ' (cached)' : ''}, mmdebstrap ${((Date.now() - t1) / 1000).toFixed(1)} s`)
  layer = built
  tree = await ext4Tree(layer.path)
  const cat = async (p: string): Promise<string> => (await execa('debugfs', ['-R', `cat ${p}`, layer.path])).stdout
  layerNames = { u: ids(await cat('/etc/passwd')), g: ids(await cat('/etc/group')) }
  refNames = { u: ids(readFileSync(join(ref, 'etc/passwd'), 'utf8')), g: ids(readFileSync(join(ref, 'etc/group'), 'utf8')) }
}, 900_000)

afterAll(() => {
  if (ref) rmSync(ref, { recursive: true, force: true })
})

describe('a layer of 14 network packages against a real install of them', () => {
  test('every conffile the .debs list is there as Debian leaves it: a regular file (or the link shipped), with its owner and mode', async () => {
    // dpkg keeps each .deb's conffiles list as info/<package>.conffiles: the install's copy of it.
    const listed = layer.manifest.packages.flatMap((p) => {
      const f = infoFile(p.name, 'conffiles')
      return f ? readFileSync(f, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : []
    })
    // frr, keepalived, haproxy, nginx, dnsmasq, strongswan, openvswitch ... have 192 between them.
    expect(listed.length).toBeGreaterThan(150)
    const wrong: string[] = []
    for (const c of listed) {
      const want = inRef(c)
      const got = inLayer(c)
      if (!want) continue // a conffile the install does not have either (none today)
      if (!got?.startsWith(want.startsWith('link') ? 'link' : 'file ') || got !== want) wrong.push(`${c}: Debian ${want}, layer ${got ?? 'missing'}`)
    }
    expect(wrong).toEqual([])
    expect(inLayer('/etc/bird/bird.conf')).toBe('file 640 bird:bird')
    expect(inLayer('/etc/frr/frr.conf')).toBe('file 640 frr:frr')
  })

  test('every path the packages own has the kind, owner and mode of the install (setuid and setgid bits too)', () => {
    const wrong: string[] = []
    let n = 0
    for (const p of layer.manifest.packages) {
      const list = infoFile(p.name, 'list')
      if (!list) continue
      for (const path of readFileSync(list, 'utf8').split('\n').filter(Boolean)) {
        if (NOT_IN_LAYERS.test(path)) continue
        const want = inRef(path)
        if (!want) continue
        n++
        const got = inLayer(path)
        if (got !== want) wrong.push(`${path}: Debian ${want}, layer ${got ?? 'missing'}`)
      }
    }
    expect(n).toBeGreaterThan(3000)
    expect(wrong).toEqual([])
    // What statoverrides and chowns give (lldpd, cron, nginx, uuid-runtime), and a file's own setuid bit (passwd).
    expect([inLayer('/usr/sbin/lldpcli'), inLayer('/usr/bin/crontab'), inLayer('/var/log/nginx'), inLayer('/usr/bin/passwd')]).toEqual([
      'file 4750 _lldpd:adm', 'file 2755 root:crontab', 'dir 755 root:adm', 'file 4755 root:root',
    ])
  })

  test('no path a maintainer script names became a directory, and what the scripts make is there as the install has it', () => {
    const named = new Set<string>()
    for (const p of layer.manifest.packages) {
      for (const s of ['preinst', 'postinst']) {
        const f = infoFile(p.name, s)
        if (!f) continue
        for (const a of scanFileActions(readFileSync(f, 'utf8'))) {
          for (const path of a.kind === 'copy' ? [a.dest] : a.kind === 'symlink' || a.kind === 'alternative' ? [a.link] : [a.path]) named.add(path)
        }
      }
    }
    // bird2's ucf'd config, nginx's logs and site, OVS's alternative and conf.db link, lldpcli's override ...
    expect(named.size).toBeGreaterThan(20)
    const wrong: string[] = []
    const missing: string[] = []
    for (const path of named) {
      if (NOT_IN_LAYERS.test(path)) continue
      const want = inRef(path)
      const got = inLayer(path)
      if (got?.startsWith('dir') && !want?.startsWith('dir')) wrong.push(`${path}: a directory in the layer, ${want ?? 'absent'} in Debian`)
      else if (want && !want.startsWith('dir') && got === undefined) missing.push(path)
      else if (want && got !== undefined && got !== want) wrong.push(`${path}: Debian ${want}, layer ${got}`)
    }
    expect(wrong).toEqual([])
    // Not emulated, and why: ucf's preinst rotates ucf's own state (hashfile.0) only when an earlier ucf left one.
    expect(missing).toEqual(['/var/lib/ucf/hashfile.0'])
    expect(inLayer('/usr/sbin/ovs-vswitchd')).toBe('link 777 root:root -> /etc/alternatives/ovs-vswitchd')
    expect(inLayer('/etc/nginx/sites-enabled/default')).toBe('link 777 root:root -> /etc/nginx/sites-available/default')
    expect(inLayer('/var/log/nginx/access.log')).toBe('file 640 www-data:adm')
  })
})

describe('in a VM with that layer', () => {
  let cluster: RunningCluster
  beforeAll(async () => {
    cluster = await startCluster({ name: 'pkg-sweep', nvm: 1, nrouters: 0, packages: NAMES })
  }, 600_000)
  afterAll(async () => {
    const id = cluster?.id
    await cluster?.stop()
    if (id) expect(await leftovers(xclusterHome(), [id])).toEqual([])
  })
  const check = async (cmd: string): Promise<{ code: number; out: string }> => {
    const r = await cluster.vm(1).exec(`${cmd} 2>&1`)
    return { code: r.exitCode, out: r.stdout }
  }

  test("each daemon's own check passes on Debian's configuration, and fails on a broken one", async () => {
    const ok: Record<string, string> = {
      bird: 'bird -p',
      haproxy: 'haproxy -c -f /etc/haproxy/haproxy.cfg',
      nginx: 'nginx -t',
      frr: 'vtysh -C',
      dnsmasq: 'dnsmasq --test',
      'isc-dhcp-server': 'dhcpd -t -cf /etc/dhcp/dhcpd.conf',
      // Debian ships no keepalived.conf nor radvd.conf: a minimal one each.
      keepalived: "printf 'vrrp_instance v { interface eth0\\n virtual_router_id 7\\n priority 100\\n virtual_ipaddress { 10.9.9.9 }\\n}\\n' > /tmp/k.conf && keepalived -t -f /tmp/k.conf",
      radvd: "printf 'interface eth0 {\\n AdvSendAdvert on;\\n prefix 2001:db8::/64 {};\\n};\\n' > /tmp/r.conf && radvd -c -C /tmp/r.conf",
      // No config check of their own: they run from the layer (OVS through its update-alternatives link).
      openvswitch: 'ovs-vswitchd --version && ovsdb-tool create /tmp/conf.db /usr/share/openvswitch/vswitch.ovsschema',
      strongswan: 'ipsec --version',
      lldpd: 'lldpd -v && lldpcli -v',
      conntrackd: 'conntrackd -v',
      ipvsadm: 'ipvsadm -v',
      iperf3: 'iperf3 --version',
    }
    const failed: string[] = []
    for (const [name, cmd] of Object.entries(ok)) {
      const r = await check(cmd)
      if (r.code !== 0) failed.push(`${name}: \`${cmd}\` exited ${r.code}: ${r.out.trim().split('\n').slice(-3).join(' | ')}`)
    }
    expect(failed).toEqual([])
    // The checks can fail: a broken bird.conf, nginx.conf and keepalived.conf are refused.
    const broken = await check("echo 'protocol nonsense {' > /etc/bird/bird.conf && bird -p")
    expect(broken.code).not.toBe(0)
    expect((await check("echo 'events {' >> /etc/nginx/nginx.conf && nginx -t")).code).not.toBe(0)
    expect((await check("echo 'vrrp_instance {' > /tmp/bad.conf && keepalived -t -f /tmp/bad.conf")).code).not.toBe(0)
  })

  test("an overlay's own file lands where the package has a config file (bird.conf is a file, owned by bird)", async () => {
    expect((await check("stat -c '%F %U:%G %a' /etc/bird/bird.conf /usr/sbin/lldpcli")).out).toBe('regular file bird:bird 640\nregular file _lldpd:adm 4750\n')
    expect((await check("cp /etc/bird/bird.conf /tmp/b && printf 'router id 10.0.0.1;\\nprotocol device {}\\n' > /etc/bird/bird.conf && bird -p && echo written")).out).toContain('written')
  })
})
