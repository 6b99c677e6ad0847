// The ssh hosts of a cluster, before anything of it exists: each reached
// (its host key known, the user let in) and checked (root, the programs and
// firmware QEMU needs, KVM when asked for, cores and memory, and room for
// full-size frames on the way to every other host), then the VMs placed.
// Every problem of every host is one HostCheckError, and nothing is left open.
import { isIP } from 'node:net'
import { HostCheckError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { argvNames } from '../host/remote-cleanup.ts'
import { safeDirScript } from '../host/remote-dir.ts'
import { SshHost, targetLabel } from '../host/ssh-host.ts'
import { UNDERLAY_MTU } from '../net/bridge-backend.ts'
import type { HostFacts, SshHosts } from '../host/ssh-cluster.ts'
import { placeVms } from '../plan/placement.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import type { StateRecord } from '../host/state-dir.ts'
import { shellQuote } from '../pure/quote.ts'

/** What each host is asked: one line per fact. */
const PROBE = `echo "uid $(id -u)"
for p in qemu-system-x86_64 ip bridge socat nft; do command -v "$p" >/dev/null 2>&1 || echo "missing $p"; done
[ -r /usr/share/qemu/qboot.rom ] || echo "missing /usr/share/qemu/qboot.rom"
[ -c /dev/net/tun ] || echo "missing /dev/net/tun"
echo "cores $(nproc)"
echo "mem $(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)"
set -- $SSH_CONNECTION; echo "addr $3"
# KVM as here (src/qemu/accel.ts): the CPU flag, the device, and a probe that must answer (a /dev/kvm can be there and not run guests).
grep -qE '^flags.*\\b(vmx|svm)\\b' /proc/cpuinfo && [ -w /dev/kvm ] && printf 'info kvm\\nquit\\n' | timeout 5 qemu-system-x86_64 -accel kvm -M none -nodefaults -display none -monitor stdio 2>/dev/null | grep -q 'kvm support: enabled' && echo "kvm 1"
exit 0
`

/** The Debian package of each thing a host may lack. */
const PACKAGE_OF: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86', ip: 'iproute2', bridge: 'iproute2', socat: 'socat', nft: 'nftables', '/usr/share/qemu/qboot.rom': 'qemu-system-data',
}

/** The facts in a probe's output, and the problems they show. Pure. */
export function readProbe(out: string, accel: ClusterSpec['accel'], underlay?: string): { facts?: HostFacts; problems: string[] } {
  const problems: string[] = []
  const val = (k: string): string | undefined => out.split('\n').find((l) => l.startsWith(`${k} `))?.slice(k.length + 1).trim()
  if (val('uid') !== '0') problems.push(`the ssh user is not root there (uid ${val('uid') ?? '?'}): the harness makes namespaces, bridges, taps and VXLAN devices on each host; log in as root`)
  const missing = out.split('\n').filter((l) => l.startsWith('missing ')).map((l) => l.slice(8))
  const pkgs = [...new Set(missing.map((m) => PACKAGE_OF[m]).filter(Boolean))]
  if (missing.length) problems.push(`it lacks ${missing.join(', ')}${pkgs.length ? `: apt-get install ${pkgs.join(' ')}` : ''}`)
  const kvm = val('kvm') === '1'
  if (accel === 'kvm' && !kvm) problems.push('accel: kvm, but /dev/kvm cannot be opened there')
  // What a host says is checked before any of it is used (or pasted into a script for the others).
  const cores = Number(val('cores'))
  const memMiB = Number(val('mem'))
  const said = val('addr')
  const addr = underlay ?? (said && isIP(said) ? said : undefined)
  if (!underlay && said && !isIP(said)) problems.push(`its address on the way from here, as it reports it (SSH_CONNECTION), is not an IP address: ${JSON.stringify(said.slice(0, 80))}; nothing it said is used: give the host an \`underlay\` address, or look at what that host runs`)
  else if (!addr) problems.push('its address on the way from here is unknown (SSH_CONNECTION is not set there): give the host an `underlay` address')
  if (val('cores') !== undefined && !/^\d{1,5}$/.test(val('cores')!)) problems.push(`its core count is not a number: ${JSON.stringify(val('cores')!.slice(0, 80))}`)
  if (val('mem') !== undefined && !/^\d{1,9}$/.test(val('mem')!)) problems.push(`its available memory is not a number: ${JSON.stringify(val('mem')!.slice(0, 80))}`)
  if (problems.length || !(cores > 0) || !(memMiB > 0) || !addr) {
    if (!problems.length) problems.push(`could not read its cores and memory (nproc, /proc/meminfo): ${JSON.stringify(out.slice(0, 200))}`)
    return { problems }
  }
  return { facts: { cores, memMiB, underlay: addr, kvm }, problems }
}

/** The sh script that tells, per peer address (each checked with isIP, and quoted), the MTU of the device the host reaches it on. */
export function mtuScript(peers: string[]): string {
  return peers.map((p) => `a=${shellQuote(p)}; dev=$(ip -o route get "$a" 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'); echo "$a \${dev:--} $(ip -o link show "$dev" 2>/dev/null | sed -n 's/.* mtu \\([0-9]*\\).*/\\1/p')"`).join('\n') + '\n'
}

/** A device name as a host reports it, fit to print (and to put into the command the user is told to run). */
function deviceName(dev: string): string {
  return /^[A-Za-z0-9_.@:-]{1,32}$/.test(dev) ? dev : JSON.stringify(dev.slice(0, 32))
}

/** Connect to and check every ssh host of `spec`, then place its VMs (spec.hosts becomes where each VM runs). */
export async function connectSshHosts(spec: ClusterSpec): Promise<SshHosts> {
  const specs = spec.sshHosts!
  const names = Object.keys(specs)
  const tag = (n: string): string => `host ${n} (${targetLabel(specs[n])})`
  const problems: string[] = []
  const hosts = new Map<string, SshHost>()
  const facts = new Map<string, HostFacts>()
  const dialled = await Promise.allSettled(names.map((n) => SshHost.connect({ name: n, ...specs[n] })))
  dialled.forEach((r, i) => (r.status === 'fulfilled' ? hosts.set(names[i], r.value) : problems.push(`${tag(names[i])}: cannot log in: ${(r.reason as Error).message}`)))
  try {
    await Promise.all([...hosts].map(async ([n, h]) => {
      const r = readProbe((await h.run('sh -s', { input: PROBE, timeoutMs: 20_000 })).stdout, spec.accel, specs[n].underlay)
      for (const p of r.problems) problems.push(`${tag(n)}: ${p}`)
      if (r.facts) facts.set(n, r.facts)
    }))
    // The harness's directory there: root's all the way down, writable by no one else (see remote-dir.ts).
    if (!problems.length) {
      await Promise.all(names.map(async (n) => {
        const r = await hosts.get(n)!.run('sh -s', { input: safeDirScript(specs[n].dir, ['cache', 'run']) + '\n', timeoutMs: 20_000 })
        if (r.code !== 0) problems.push(`${tag(n)}: its directory ${specs[n].dir} cannot be used: ${(r.stdout.split('\n').find((l) => l.startsWith('unsafe ')) ?? r.stderr.trim()).replace(/^unsafe /, '')} (another user of that host could plant or swap what the harness runs as root there; make it root's and writable by no one else, or give another \`dir\`)`)
      }))
    }
    if (!problems.length && names.length > 1) {
      await Promise.all(names.map(async (n) => {
        const peers = names.filter((m) => m !== n).map((m) => ({ m, addr: facts.get(m)!.underlay }))
        const out = (await hosts.get(n)!.run('sh -s', { input: mtuScript(peers.map((p) => p.addr)), timeoutMs: 20_000 })).stdout
        for (const { m, addr } of peers) {
          const [, dev, mtu] = (out.split('\n').find((l) => l.startsWith(`${addr} `)) ?? `${addr} - 0`).split(' ')
          if (dev === '-') problems.push(`${tag(n)}: no route to host ${m}'s address ${addr} (the VXLAN underlay)`)
          else if (!(Number(mtu) >= UNDERLAY_MTU)) problems.push(`${tag(n)}: reaches host ${m} (${addr}) on ${deviceName(dev)}, MTU ${/^\d+$/.test(mtu ?? '') ? mtu : '?'}: VXLAN needs ${UNDERLAY_MTU} there for the nets' full 1500-byte frames (ip link set ${deviceName(dev)} mtu ${UNDERLAY_MTU}, on every host)`)
        }
      }))
    }
    if (!problems.length) {
      const { placement, problems: p } = placeVms(
        spec.vms.map((num) => ({ num, mem: spec.memVm[num] ?? spec.mem })),
        names.map((n) => ({ name: n, cores: facts.get(n)!.cores, memMiB: facts.get(n)!.memMiB, fixed: spec.hosts?.[n] ?? [] })),
      )
      problems.push(...p)
      spec.hosts = placement
    }
    if (problems.length) throw new HostCheckError(problems)
    return { hosts, facts }
  } catch (e) {
    for (const h of hosts.values()) h.close()
    throw e
  }
}

/**
 * The ssh hosts of a cluster started by another process (xc start), from
 * their records: connected again, without the checks of a start. A host that
 * does not answer is left out and said so: its VMs cannot be reached, and a
 * stop keeps its record for a later cleanup.
 */
export async function reconnectSshHosts(s: StateRecord, log: Logger): Promise<SshHosts> {
  const hosts = new Map<string, SshHost>()
  const facts = new Map<string, HostFacts>()
  const recs = Object.values(s.remoteHosts ?? {})
  const dialled = await Promise.allSettled(recs.map((r) => SshHost.connect(r, 10_000)))
  dialled.forEach((d, i) => {
    const r = recs[i]
    facts.set(r.name, { cores: 0, memMiB: 0, underlay: r.underlay ?? r.address, kvm: r.kvm === true })
    if (d.status === 'fulfilled') hosts.set(r.name, d.value)
    else log.warn(`host ${r.name} (${targetLabel(r)}) of cluster ${s.name} does not answer (${(d.reason as Error).message}): its VMs cannot be reached; a stop keeps what it has recorded for \`xc cleanup\``)
  })
  return { hosts, facts }
}

/** Which VMs of `s` on ssh hosts run there now (their pid there names the cluster's directory); a host that does not answer leaves its VMs unknown. */
export async function remoteVmsAlive(s: StateRecord): Promise<Map<string, boolean | undefined>> {
  const out = new Map<string, boolean | undefined>()
  await Promise.all(Object.values(s.remoteHosts ?? {}).map(async (r) => {
    const vms = Object.values(s.vms).filter((v) => v.host === r.name && v.process)
    let h: SshHost | undefined
    try {
      h = await SshHost.connect(r, 5000)
      const script = vms.map((v) => `${argvNames(v.process!.pid, shellQuote(r.dir))} && echo ${v.name}`).join('\n') + '\nexit 0\n'
      const up = new Set((await h.run('sh -s', { input: script, timeoutMs: 10_000 })).stdout.split('\n'))
      for (const v of vms) out.set(v.name, up.has(v.name))
    } catch {
      for (const v of vms) out.set(v.name, undefined)
    } finally {
      h?.close()
    }
  }))
  return out
}
