// Bridge networking across ssh hosts: on each host a network namespace of
// the cluster's own with one bridge per net (as in bridge mode here), the
// taps of the VMs that run there, and per net a VXLAN device made in the
// host's own namespace (so that it sends on the host's network) and moved
// into the cluster's, flooding to every other host. A VM's telnet and ssh
// are reached through socat in the first host's namespace, where the host
// side of net 0 (192.168.0.250) is. QEMU there is the runner's
// (qemu/ssh-runner.ts); what each host has is removed by the cluster's
// RemoteHosts (cluster/remote-hosts.ts).
import { isIP } from 'node:net'
import type { Duplex } from 'node:stream'
import { HostCommandError, XclusterError, XcTimeoutError } from '../errors.ts'
import { safeDirScript } from '../host/remote-dir.ts'
import { sshNetns, sshRunDir, type SshHosts } from '../host/ssh-cluster.ts'
import type { SshHost } from '../host/ssh-host.ts'
import type { RemoteHostRecord, StateDir } from '../host/state-dir.ts'
import { ipv4Of, type ClusterPlan, type NicPlan, type VmPlan } from '../plan/plan.ts'
import { shellQuote as q } from '../pure/quote.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import type { Logger } from '../log.ts'
import { nicDevice, type HostResult, type NetworkBackend } from './backend.ts'
import { bridgeBatch, bridgeName, tapBatch, tapName } from './bridge-backend.ts'

/** The VXLAN device of net `net` of cluster `id` (made in a host's own namespace: the name is unique per cluster). */
export function remoteVxlanName(id: string, net: number): string {
  return `xc${id}v${net}`
}

/** The VNI of net `net` of cluster `id`: 256 per cluster, so that clusters on one host do not share a VNI (unless their ids' first 16 bits agree modulo 65000). */
export function remoteVni(id: string, net: number): number {
  return 4096 + (parseInt(id.slice(0, 4), 16) % 65000) * 256 + net
}

/** The nftables table of cluster `id` on an ssh host (in the host's own namespace, where its VXLAN sockets are). */
export function remoteNftTable(id: string): string {
  return `xc_${id}`
}

/** A peer of an ssh host: its name and the address it sends VXLAN from (checked with isIP before it gets here). */
export interface VxlanPeer {
  name: string
  addr: string
}

/**
 * The nftables table that lets only the cluster's `peers` send it VXLAN:
 * UDP 4789 with one of the cluster's VNIs (its 256, matched on the VNI's
 * upper 16 bits) from any other address is dropped and counted. Pure.
 */
export function vxlanFilter(id: string, peers: string[]): string {
  const block = `0x${(remoteVni(id, 0) >> 8).toString(16)}`
  const v4 = peers.filter((p) => isIP(p) === 4)
  const v6 = peers.filter((p) => isIP(p) === 6)
  const rule = (fam: 'ip' | 'ip6', list: string[]): string =>
    `    meta nfproto ${fam === 'ip' ? 'ipv4' : 'ipv6'} udp dport 4789 @th,96,16 ${block} ${list.length ? `${fam} saddr != { ${list.join(', ')} } ` : ''}counter drop`
  return [
    `table inet ${remoteNftTable(id)} {`,
    '  chain vxlan {',
    '    type filter hook input priority -200; policy accept;',
    rule('ip', v4),
    rule('ip6', v6),
    '  }',
    '}',
  ].join('\n')
}

/**
 * The sh script that makes host `i`'s part of the network: its directory
 * (made and checked: see remote-dir.ts), namespace, bridges and VXLAN
 * devices. Learning is off on the VXLAN devices: each VM's MACs have static
 * entries towards its host (the plan knows them), and what is unknown
 * floods to every peer; only the peers may send the cluster VXLAN
 * (vxlanFilter). Every value from a host was checked before it got here,
 * and is quoted. Pure.
 */
export function prepareHostScript(plan: ClusterPlan, i: number, rec: RemoteHostRecord, base: string, underlay: string, peers: VxlanPeer[]): string {
  const heredoc = (cmd: string, lines: string[]): string => (lines.length ? `${cmd} <<'XC_EOF'\n${lines.join('\n')}\nXC_EOF\n` : '')
  const vx = plan.nets.map((net) => ({ net, dev: remoteVxlanName(plan.id, net) }))
  const cache = `${base}/cache`
  return [
    'set -e',
    'umask 077',
    safeDirScript(base, ['cache', 'run', rec.dir.slice(base.length + 1)]),
    // What an interrupted copy left in the cache (a copy is a temp file renamed at its end): gone after an hour.
    `find ${q(cache)} -maxdepth 1 -name '*.tmp' -mmin +60 -delete 2>/dev/null || true`,
    `ip netns add ${q(rec.netns)}`,
    heredoc(`ip -n ${q(rec.netns)} -batch -`, bridgeBatch(plan, i === 0)),
    ...(peers.length
      ? [
          heredoc('nft -f -', [vxlanFilter(plan.id, peers.map((p) => p.addr))]),
          ...vx.map(({ net, dev }) => `ip link add ${dev} type vxlan id ${remoteVni(plan.id, net)} dstport 4789 local ${q(underlay)} nolearning\nip link set ${dev} netns ${q(rec.netns)}`),
        ]
      : []),
    heredoc(`ip -n ${q(rec.netns)} -batch -`, peers.length ? vx.map(({ net, dev }) => `link set ${dev} mtu 1500 master ${bridgeName(net)} up`) : []),
    heredoc(`bridge -n ${q(rec.netns)} -batch -`, [
      ...vx.flatMap(({ dev }) => peers.map((p) => `fdb append 00:00:00:00:00:00 dev ${dev} dst ${p.addr}`)),
      ...fdbLines(plan, plan.vms.filter((vm) => vm.host && vm.host !== plan.hosts?.[i]), peers),
    ]),
  ].join('\n')
}

/** `bridge -batch` lines: each NIC's MAC of `vms` (on other hosts) towards its host's address among `peers`. Pure. */
export function fdbLines(plan: ClusterPlan, vms: VmPlan[], peers: VxlanPeer[]): string[] {
  return vms.flatMap((vm) => {
    const peer = peers.find((p) => p.name === vm.host)
    return peer ? vm.nics.map((nic) => `fdb replace ${nic.mac} dev ${remoteVxlanName(plan.id, nic.net)} dst ${peer.addr} self permanent`) : []
  })
}

export class SshBackend implements NetworkBackend {
  readonly mode = 'bridge' as const
  /** VMs whose MACs have static VXLAN entries on the other hosts. */
  private readonly fdbDone = new Set<string>()

  constructor(
    private readonly plan: ClusterPlan,
    private readonly state: StateDir,
    private readonly spec: Pick<ClusterSpec, 'sshHosts'>,
    private readonly ssh: SshHosts,
    /** Why the cluster cannot be used any more (a host lost), when it cannot. */
    private readonly failure: () => Error | undefined,
    private readonly log?: Logger,
  ) {}

  private get names(): string[] {
    return this.plan.hosts ?? []
  }

  private hostOf(vm: VmPlan): string {
    return vm.host ?? this.names[0]
  }

  private host(name: string): SshHost {
    const h = this.ssh.hosts.get(name)
    if (!h) throw new XclusterError(`no ssh connection to host ${name}`)
    return h
  }

  private netnsOn(name: string): string {
    return sshNetns(this.plan.id, name)
  }

  private runDir(name: string): string {
    return sshRunDir(this.spec.sshHosts![name].dir, this.plan.id, name)
  }

  private recordOf(name: string): RemoteHostRecord {
    const s = this.spec.sshHosts![name]
    return {
      name, user: s.user, address: s.address, port: s.port,
      ...(s.key ? { key: s.key } : {}), ...(s.knownHosts ? { knownHosts: s.knownHosts } : {}),
      dir: this.runDir(name), netns: this.netnsOn(name), links: this.plan.nets.map((n) => remoteVxlanName(this.plan.id, n)),
      ...(this.names.length > 1 ? { tables: [remoteNftTable(this.plan.id)] } : {}),
      underlay: this.ssh.facts.get(name)?.underlay, kvm: this.ssh.facts.get(name)?.kvm,
    }
  }

  /** Run `script` with sh on host `name`; a non-zero exit is a HostCommandError naming the host. */
  private async sh(name: string, script: string, what: string, timeoutMs = 60_000): Promise<string> {
    this.log?.child(`host ${name}`).debug(`${what}: sh -s <<<${JSON.stringify(script.length > 400 ? script.slice(0, 400) + '...' : script)}`)
    const r = await this.host(name).run('sh -s', { input: script, timeoutMs })
    if (r.code !== 0) throw new HostCommandError(`host ${name} (${this.host(name).label}): ${what} failed (exit ${r.code}): ${r.stderr.trim()}`, { argv: ['sh', '-s'], exitCode: r.code, stderr: r.stderr })
    return r.stdout
  }

  async prepare(): Promise<void> {
    // Recorded before anything is made there.
    this.state.update((r) => {
      r.remoteHosts = Object.fromEntries(this.names.map((n) => [n, this.recordOf(n)]))
    })
    await Promise.all(this.names.map((name, i) => {
      const script = prepareHostScript(this.plan, i, this.state.state.remoteHosts![name], this.spec.sshHosts![name].dir, this.underlay(name), this.peersOf(name))
      for (const vm of this.plan.vms) this.fdbDone.add(vm.name)
      return this.sh(name, script, 'making its namespace, bridges and VXLAN devices')
    }))
  }

  /** The address host `name` sends VXLAN from (checked with isIP when it was read). */
  private underlay(name: string): string {
    return this.ssh.facts.get(name)!.underlay
  }

  /** The other hosts of `name`, with their addresses. */
  private peersOf(name: string): VxlanPeer[] {
    return this.names.filter((n) => n !== name).map((n) => ({ name: n, addr: this.underlay(n) }))
  }

  async prepareVm(vm: VmPlan): Promise<void> {
    const name = this.hostOf(vm)
    await this.sh(name, `ip -n ${q(this.netnsOn(name))} -batch - <<'XC_EOF'\n${tapBatch(vm).join('\n')}\nXC_EOF\n`, `making the taps of ${vm.name}`)
    // A VM the start did not know (scale-out): its MACs towards its host, on every other host (learning is off).
    if (this.fdbDone.has(vm.name)) return
    await Promise.all(this.names.filter((n) => n !== name).map((n) =>
      this.sh(n, `bridge -n ${q(this.netnsOn(n))} -batch - <<'XC_EOF'\n${fdbLines(this.plan, [{ ...vm, host: name }], this.peersOf(n)).join('\n')}\nXC_EOF\n`, `adding the MACs of ${vm.name}`)))
    this.fdbDone.add(vm.name)
  }

  async nicArgs(vm: VmPlan, nic: NicPlan): Promise<string[]> {
    return ['-netdev', `tap,id=${nic.id},ifname=${tapName(vm.num, nic.net)},script=no,downscript=no`, ...nicDevice(nic.id, nic.mac)]
  }

  wrap(): string[] {
    throw new XclusterError('a cluster on ssh hosts runs its programs there, not on this machine: use hostExec (on the first host)')
  }

  async exec(argv: string[], timeoutMs: number): Promise<HostResult> {
    const name = this.names[0]
    try {
      const command = `ip netns exec ${q(this.netnsOn(name))} ${argv.map(q).join(' ')}`
      this.log?.child(`host ${name}`).debug(`run: ${command}`)
      const r = await this.host(name).run(command, { timeoutMs })
      return { stdout: r.stdout, stderr: r.stderr, exitCode: r.code }
    } catch (e) {
      if (e instanceof XcTimeoutError) return { stdout: '', stderr: e.message, exitCode: -1 }
      throw this.failure() ?? e
    }
  }

  async connect(vm: VmPlan, port: number): Promise<Duplex> {
    const failure = this.failure()
    if (failure) throw failure
    // From the host side of net 0 (192.168.0.250, on the first host), as in bridge mode here: a VM on another host is reached over the VXLAN.
    const name = this.names[0]
    const ch = await this.host(name).session(`exec ip netns exec ${q(this.netnsOn(name))} socat STDIO TCP:${ipv4Of(0, vm.num)}:${port},connect-timeout=3`)
    ch.stderr.resume()
    return ch
  }

  async releaseVm(vm: VmPlan): Promise<void> {
    const name = this.hostOf(vm)
    const lines = vm.nics.map((nic) => `link delete ${tapName(vm.num, nic.net)}`)
    await this.sh(name, `ip -n ${q(this.netnsOn(name))} -batch - <<'XC_EOF'\n${lines.join('\n')}\nXC_EOF\n`, `removing the taps of ${vm.name}`).catch(() => {})
  }

  /** Nothing of its own to remove: what each host has goes with the cluster's RemoteHosts (namespace, links, directory). */
  async teardown(): Promise<void> {}
}
