// Bridge networking across ssh hosts: on each host a network namespace of
// the cluster's own with one bridge per net (as in bridge mode here), the
// taps of the VMs that run there, and per net a VXLAN device made in the
// host's own namespace (so that it sends on the host's network) and moved
// into the cluster's, flooding to every other host. QEMU runs there in that
// namespace, started by an ssh session whose end ends it (a watchdog reads
// the session's stdin); its console comes back on the session's stdout, its
// monitor is reached through ssh (direct-streamlocal), and a VM's telnet and
// ssh through socat in the first host's namespace, where the host side of
// net 0 (192.168.0.250) is. A host lost during a run stops the
// cluster: what the other hosts run is removed, what the lost host has
// stays recorded for a later cleanup.
import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, createReadStream, createWriteStream, existsSync, rmSync, statSync } from 'node:fs'
import { createServer, isIP, type Server } from 'node:net'
import { basename } from 'node:path'
import type { Duplex } from 'node:stream'
import { HostCommandError, HostLostError, XclusterError, XcTimeoutError } from '../errors.ts'
import { argvNames, removeRemote } from '../host/remote-cleanup.ts'
import { cachedFileScript, safeDirScript } from '../host/remote-dir.ts'
import type { ProcHandle } from '../host/spawner.ts'
import type { SshHost } from '../host/ssh-host.ts'
import type { RemoteHostRecord, StateDir } from '../host/state-dir.ts'
import { ipv4Of, type ClusterPlan, type NicPlan, type VmPlan } from '../plan/plan.ts'
import { shellQuote as q } from '../plan/quote.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import { nicDevice, type NetworkBackend, type RemoteVms } from './backend.ts'
import { bridgeBatch, bridgeName, tapBatch, tapName } from './bridge-backend.ts'

/** What the harness read on an ssh host before the start. */
export interface HostFacts {
  cores: number
  memMiB: number
  /** The address the other hosts reach it at (VXLAN). */
  underlay: string
  kvm: boolean
}

/** The connected ssh hosts of a cluster, by name, and what was read on each. */
export interface SshHosts {
  hosts: Map<string, SshHost>
  facts: Map<string, HostFacts>
}

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

/**
 * The sh script that runs QEMU (`argv`) in namespace `ns` for one ssh
 * session: its pid and exit code are told on stderr after a \x01 mark;
 * QEMU is killed when the session's stdin ends (the harness closed it, or
 * the connection is gone). Pure.
 */
export function launchScript(ns: string, argv: string[], dir: string): string {
  return [
    'exec 3<&0',
    `cd ${q(dir)} || exit 1`,
    `ip netns exec ${q(ns)} ${argv.map(q).join(' ')} </dev/null 3<&- &`,
    'q=$!',
    `printf '\\001xc-pid %s\\n' "$q" >&2`,
    // The watchdog: no stdout or stderr of its own, so that the session can close when QEMU has exited.
    `( cat <&3 >/dev/null 2>&1; ${argvNames('$q', q(dir))} && kill -KILL $q ) >/dev/null 2>&1 &`,
    'exec 3<&-',
    'wait $q; rc=$?',
    `printf '\\001xc-exit %s\\n' "$rc" >&2`,
    'exit $rc',
  ].join('\n')
}

/**
 * `command` (a simple command) run so that it ends when the ssh session's
 * stdin does: sshd does not end a session's programs when its connection
 * goes, and a `tail -F` that has nothing to write would live on. Pure.
 */
export function untilStdinEnds(command: string): string {
  return ['exec 3<&0', `${command} </dev/null 3<&- &`, 't=$!', '( cat <&3 >/dev/null 2>&1; kill $t 2>/dev/null ) >/dev/null 2>&1 &', 'exec 3<&-', 'wait $t'].join('\n')
}

/**
 * A handle on a process on a host, known through a session: `gone` settles
 * when that session closes, `exit()` says why once it is known (it always is
 * by then). Pure.
 */
function sessionHandle(gone: Promise<void>, exit: () => string | undefined, kill: () => void): ProcHandle {
  return {
    get alive() {
      return exit() === undefined
    },
    get exitReason() {
      return exit()
    },
    kill,
    waitGone: (ms) => Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]),
  }
}

/** The sha256 of a file, once per path, size and mtime in this process. */
const hashes = new Map<string, Promise<string>>()
function fileHash(path: string): Promise<string> {
  const st = statSync(path)
  const key = `${path}\0${st.size}\0${st.mtimeMs}`
  let h = hashes.get(key)
  if (!h) {
    h = new Promise((resolve, reject) => {
      const sha = createHash('sha256')
      createReadStream(path).on('data', (d) => sha.update(d)).on('error', reject).on('end', () => resolve(sha.digest('hex')))
    })
    hashes.set(key, h)
  }
  return h
}

export class SshBackend implements NetworkBackend {
  readonly mode = 'bridge' as const
  readonly remote: RemoteVms
  private lostError?: HostLostError
  private removingOthers?: Promise<void>
  private readonly qmpServers = new Map<string, Server>()
  private readonly staged = new Map<string, Promise<string>>()
  /** VMs whose MACs have static VXLAN entries on the other hosts. */
  private readonly fdbDone = new Set<string>()

  constructor(
    private readonly plan: ClusterPlan,
    private readonly state: StateDir,
    private readonly spec: Pick<ClusterSpec, 'sshHosts' | 'accel'>,
    private readonly ssh: SshHosts,
  ) {
    for (const [name, h] of ssh.hosts) h.onLost((why) => this.lose(name, why))
    this.remote = {
      hostOf: (vm) => this.hostOf(vm),
      accelOf: (vm) => (this.spec.accel !== 'tcg' && this.ssh.facts.get(this.hostOf(vm))?.kvm ? 'kvm' : 'tcg'),
      stage: (vm, local) => this.stage(this.hostOf(vm), local),
      files: (vm) => {
        const dir = this.runDir(this.hostOf(vm))
        // Bound to this process, the console comes back on the session's stdout; detached, it is a file there, followed by tail.
        return { console: this.detached ? `${dir}/${vm.name}.console` : '/dev/stdout', qmp: `${dir}/${vm.name}.qmp`, pidfile: `${dir}/${vm.name}.pid` }
      },
      launch: (vm, argv, local) => (this.detached ? this.launchDetached(vm, argv, local) : this.launch(vm, argv, local)),
      adopt: (vm, record, local) => this.follow(vm, record.pid, local),
    }
  }

  /** Started by `xc start`: its QEMUs outlive this process (daemonized there), and xc stop removes them. */
  private get detached(): boolean {
    return this.state.state.detached
  }

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
    return `xc-${this.plan.id}-${name}`
  }

  private runDir(name: string): string {
    return `${this.spec.sshHosts![name].dir}/run/${this.plan.id}-${name}`
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
    throw new XclusterError('a cluster on ssh hosts runs its programs there: QEMU through remote.launch, host commands through exec')
  }

  async exec(argv: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const name = this.names[0]
    try {
      const r = await this.host(name).run(`ip netns exec ${q(this.netnsOn(name))} ${argv.map(q).join(' ')}`, { timeoutMs })
      return { stdout: r.stdout, stderr: r.stderr, exitCode: r.code }
    } catch (e) {
      if (e instanceof XcTimeoutError) return { stdout: '', stderr: e.message, exitCode: -1 }
      throw this.lostError ?? e
    }
  }

  async connect(vm: VmPlan, port: number): Promise<Duplex> {
    if (this.lostError) throw this.lostError
    // From the host side of net 0 (192.168.0.250, on the first host), as in bridge mode here: a VM on another host is reached over the VXLAN.
    const name = this.names[0]
    const ch = await this.host(name).session(`exec ip netns exec ${q(this.netnsOn(name))} socat STDIO TCP:${ipv4Of(0, vm.num)}:${port},connect-timeout=3`)
    ch.stderr.resume()
    return ch
  }

  /** The remote path of `local` on host `name`: copied into its cache once (by the file's hash), or a file of the cluster's own into its directory there. */
  private stage(name: string, local: string): Promise<string> {
    // By content's identity: a file written again (the initramfs of a scale-out) is copied again.
    const st = statSync(local)
    const key = `${name}\0${local}\0${st.size}\0${st.mtimeMs}`
    let p = this.staged.get(key)
    if (!p) {
      p = (async () => {
        const h = this.host(name)
        // The cluster's own files (its initramfs) go to its directory there, and go with it; the image and layers to the cache, by hash.
        const own = local.startsWith(this.state.dir + '/')
        const cache = own ? this.runDir(name) : `${this.spec.sshHosts![name].dir}/cache`
        const remote = own ? `${cache}/${basename(local)}` : `${cache}/${(await fileHash(local)).slice(0, 20)}-${basename(local)}`
        // Reused only when it is what was put there: root's, unchanged, its hash the local file's.
        if (!own && (await h.run('sh -s', { input: cachedFileScript(remote, await fileHash(local)) })).code === 0) return remote
        const mb = Math.round(statSync(local).size / 1e6)
        if (mb >= 10) process.stderr.write(`xcluster: host ${name}: copying ${basename(local)} (${mb} MB) to ${cache} (once: it is kept there by its hash)\n`)
        const tmp = `${remote}.${randomBytes(4).toString('hex')}.tmp`
        await h.upload(local, tmp)
        const mv = await h.run(`mv -f ${q(tmp)} ${q(remote)}`)
        if (mv.code !== 0) throw new HostCommandError(`host ${name}: mv ${tmp} ${remote} failed: ${mv.stderr.trim()}`, { argv: ['mv', tmp, remote], exitCode: mv.code, stderr: mv.stderr })
        return remote
      })()
      this.staged.set(key, p)
      p.catch(() => this.staged.delete(key))
    }
    return p
  }

  private async launch(vm: VmPlan, argv: string[], local: { console: string; qmp: string; log: string }): Promise<{ record: { pid: number }; handle: ProcHandle }> {
    if (this.lostError) throw this.lostError
    const name = this.hostOf(vm)
    const h = this.host(name)
    const dir = this.runDir(name)
    this.qmpServers.get(vm.name)?.close()
    const ch = await h.session(launchScript(this.netnsOn(name), argv, dir))
    const consoleOut = createWriteStream(local.console, { flags: 'a' })
    const log = createWriteStream(local.log, { flags: 'a' })
    ch.pipe(consoleOut)
    let exit: string | undefined
    let told: (pid: number) => void
    const pid = new Promise<number>((resolve) => (told = resolve))
    let rest = ''
    ch.stderr.on('data', (d: Buffer) => {
      rest += d.toString()
      const lines = rest.split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        const m = /^\x01xc-(pid|exit) (\d+)$/.exec(line)
        if (!m) log.write(line + '\n')
        else if (m[1] === 'pid') told(Number(m[2]))
        else {
          const rc = Number(m[2])
          exit = rc > 128 ? `was killed by signal ${rc - 128} on host ${name}` : `exited with code ${rc} on host ${name}`
        }
      }
    })
    const gone = new Promise<void>((resolve) =>
      ch.once('close', () => {
        exit ??= h.lost ? `was lost with host ${name} (${h.lost})` : `is gone (its ssh session to host ${name} ended)`
        told(-1)
        log.end()
        this.qmpServers.get(vm.name)?.close()
        resolve()
      }),
    )
    const handle = sessionHandle(gone, () => exit, () => ch.end())
    const remotePid = await pid
    this.serveQmp(vm.name, local.qmp, h, this.remote.files(vm).qmp)
    return { record: { pid: remotePid }, handle }
  }

  /**
   * Detached (xc start): QEMU daemonizes there, with its console in a file
   * there; it runs on after this process, until xc stop. This process follows
   * it (follow) while it lives.
   */
  private async launchDetached(vm: VmPlan, argv: string[], local: { console: string; qmp: string; log: string }): Promise<{ record: { pid: number }; handle: ProcHandle }> {
    const name = this.hostOf(vm)
    const { pidfile } = this.remote.files(vm)
    const r = await this.host(name).run(
      `cd ${q(this.runDir(name))} || exit 1
ip netns exec ${q(this.netnsOn(name))} ${argv.map(q).join(' ')} -daemonize </dev/null || exit $?
` +
      `i=0; while [ ! -s ${q(pidfile)} ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done; cat ${q(pidfile)}`,
      { timeoutMs: 60_000 },
    )
    if (r.stderr) appendFileSync(local.log, r.stderr)
    const pid = Number(r.stdout.trim())
    if (r.code !== 0 || !(pid > 0)) {
      const exit = `exited with code ${r.code} on host ${name}`
      return { record: { pid: 0 }, handle: sessionHandle(Promise.resolve(), () => exit, () => {}) }
    }
    return { record: { pid }, handle: await this.follow(vm, pid, local) }
  }

  /**
   * Follow a detached VM's QEMU (pid `pid` there): a session that ends when
   * it does (tail --pid), its console file copied on from where the local
   * copy ends, and its monitor served here.
   */
  private async follow(vm: VmPlan, pid: number, local: { console: string; qmp: string }): Promise<ProcHandle> {
    const name = this.hostOf(vm)
    const h = this.host(name)
    const dir = this.runDir(name)
    const mine = argvNames(pid, q(dir))
    // Both end with QEMU (--pid) or with this process's session, whichever comes first.
    const watch = await h.session(`${mine} || exit 1\n${untilStdinEnds(`tail --pid=${pid} -s 0.2 -f /dev/null`)}`)
    const offset = existsSync(local.console) ? statSync(local.console).size : 0
    const con = await h.session(untilStdinEnds(`tail --pid=${pid} -s 0.2 -c +${offset + 1} -F ${q(`${dir}/${vm.name}.console`)} 2>/dev/null`))
    con.pipe(createWriteStream(local.console, { flags: 'a' }))
    let exit: string | undefined
    const gone = new Promise<void>((resolve) =>
      watch.once('close', () => {
        exit = h.lost ? `was lost with host ${name} (${h.lost})` : `is gone (on host ${name})`
        con.close()
        this.qmpServers.get(vm.name)?.close()
        resolve()
      }),
    )
    watch.resume()
    this.serveQmp(vm.name, local.qmp, h, this.remote.files(vm).qmp)
    return sessionHandle(gone, () => exit, () => void h.run(`${mine} && kill -KILL ${pid}`).catch(() => {}))
  }

  /** The VM's monitor on this machine at `path`, each connection forwarded to its socket on the host. */
  private serveQmp(vm: string, path: string, h: SshHost, remotePath: string): void {
    const server = createServer((sock) => {
      h.forwardUnix(remotePath).then(
        (up) => {
          sock.pipe(up).pipe(sock)
          up.on('close', () => sock.destroy())
          sock.on('close', () => up.end())
          sock.on('error', () => up.end())
        },
        () => sock.destroy(),
      )
    })
    // A socket file left by another process (xc start, an earlier xc) is stale: each process serves its own.
    rmSync(path, { force: true })
    server.on('error', (e) => process.stderr.write(`xcluster: the monitor of ${vm} at ${path}: ${e.message}\n`))
    const umask = process.umask(0o177)
    try {
      server.listen(path)
    } finally {
      process.umask(umask)
    }
    server.unref()
    this.qmpServers.set(vm, server)
  }

  async releaseVm(vm: VmPlan): Promise<void> {
    this.qmpServers.get(vm.name)?.close()
    this.qmpServers.delete(vm.name)
    const name = this.hostOf(vm)
    const lines = vm.nics.map((nic) => `link delete ${tapName(vm.num, nic.net)}`)
    await this.sh(name, `ip -n ${q(this.netnsOn(name))} -batch - <<'XC_EOF'\n${lines.join('\n')}\nXC_EOF\n`, `removing the taps of ${vm.name}`).catch(() => {})
  }

  failure(): Error | undefined {
    return this.lostError
  }

  /** Host `name` is lost: the cluster cannot go on; what the other hosts run is removed now. */
  private lose(name: string, why: string): void {
    if (this.lostError) return
    this.state.update((r) => {
      if (r.remoteHosts?.[name]) r.remoteHosts[name].lost = why
    })
    const others = this.names.filter((n) => n !== name)
    const rec = this.state.state.remoteHosts?.[name]
    this.lostError = new HostLostError(name, why,
      `host ${name} (${this.host(name).label}) of cluster ${this.plan.name} was lost: ${why}. ` +
      `The cluster is stopped: its VMs and networks on ${others.length ? `host ${others.join(', ')}` : 'no other host'} are removed; ` +
      `what it made on ${name}${rec ? ` (namespace ${rec.netns}, directory ${rec.dir})` : ''} stays recorded in ${this.state.dir}, and \`xc cleanup\` removes it once ${name} answers again`)
    process.stderr.write(`xcluster: ${this.lostError.message}\n`)
    this.removingOthers = this.removeFrom(others)
  }

  /** Remove what the cluster made on `names` over their connections; a record goes once its host has removed it. */
  private async removeFrom(names: string[]): Promise<void> {
    await Promise.all(names.map(async (n) => {
      const rec = this.state.state.remoteHosts?.[n]
      const h = this.ssh.hosts.get(n)
      if (!rec || !h || h.lost) return
      try {
        await removeRemote(rec, h)
        this.state.update((r) => delete r.remoteHosts![n])
      } catch (e) {
        // It stays recorded: the cluster's cleanup tries again over a new connection.
        process.stderr.write(`xcluster: host ${n}: ${(e as Error).message}\n`)
      }
    }))
  }

  async teardown(): Promise<void> {
    await this.removingOthers
    for (const s of this.qmpServers.values()) s.close()
    this.qmpServers.clear()
    await this.removeFrom(this.names)
    for (const h of this.ssh.hosts.values()) h.close()
  }
}
