// A running VM: run commands in it over telnet, read its console, control it
// through its QEMU monitor. The guest verbs (succeed, fail, the waits) come
// from GuestVerbs (./verbs.ts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import type { Duplex } from 'node:stream'
import { isIP } from 'node:net'
import { dirname, join } from 'node:path'
import { ChannelError, ChannelRetiredError, GuestCommandError, MonitorError, XcTimeoutError, XclusterError, type RcFailure } from '../errors.ts'
import { shellQuote } from '../pure/quote.ts'
import { ShellChannel, type ExecResult, type RawExecResult } from '../control/shell-channel.ts'
import { SshSession } from '../control/ssh.ts'
import { hostPublicKey } from '../control/ssh-keys.ts'
import { readSecret, type VmRecord } from '../host/state-dir.ts'
import { waitFor } from '../host/wait.ts'
import type { NetworkBackend } from '../net/backend.ts'
import { SSH_PORT, TELNET_PORT, type NicPlan, type VmPlan } from '../plan/plan.ts'
import type { Role } from '../plan/spec.ts'
import type { QemuProcess } from '../qemu/launcher.ts'
import { qmp } from '../qemu/qmp.ts'
import { startCapture, stopCapture } from './capture.ts'
import { LinkControl } from './faults.ts'
import { DEFAULT_EXEC_TIMEOUT, GuestVerbs, type ExecOptions } from './verbs.ts'

export { DEFAULT_EXEC_TIMEOUT, type ExecOptions }
const CHANNEL_OPEN_TIMEOUT = 10_000

/** The last `lines` lines of a console log, or a note that there is none. */
export function consoleTail(path: string, lines = 30): string {
  if (!existsSync(path)) return '(no console log)'
  const text = readFileSync(path, 'utf8').replace(/\r/g, '')
  const all = text.split('\n')
  return all.slice(-lines - 1).join('\n').trim() || '(console log is empty)'
}

export class RunningVm extends GuestVerbs {
  private channel?: Promise<ShellChannel>
  private sshSession?: Promise<SshSession>
  /** Set by the cluster: boots this VM again. */
  restarter?: (vm: RunningVm) => Promise<void>
  /** Interfaces with a capture running (startCapture, not yet stopCapture). */
  readonly captures = new Set<string>()
  /** The rc scripts that failed in this VM's last boot (exited non-zero, or not executable); empty when none did. */
  rcFailures: RcFailure[] = []

  constructor(
    readonly plan: VmPlan,
    public record: VmRecord,
    public process: QemuProcess,
    private readonly backend: NetworkBackend,
    /** Why the cluster cannot be used any more (a lost ssh host), once it cannot. */
    private readonly failure: () => Error | undefined = () => undefined,
  ) {
    super()
  }

  get name(): string {
    return this.plan.name
  }
  get num(): number {
    return this.plan.num
  }
  get role(): Role {
    return this.plan.role
  }
  get nics(): NicPlan[] {
    return this.plan.nics
  }
  /** The cluster's state directory (its secret, its ssh keys); a record of an older start has only its console's directory. */
  get stateDir(): string {
    return this.record.dir ?? dirname(this.record.console)
  }

  /** QEMU's own output (stderr) of this VM. */
  get qemuLog(): string {
    return this.record.qemuLog ?? this.record.console.replace(/\.console$/, '.qemu.log')
  }

  get alive(): boolean {
    return this.process.alive
  }

  /** The whole console log so far. */
  console(): string {
    return existsSync(this.record.console) ? readFileSync(this.record.console, 'utf8') : ''
  }

  consoleTail(lines = 30): string {
    return consoleTail(this.record.console, lines)
  }

  /**
   * A raw byte stream to the VM's `port` (23 telnet, 22 ssh), through the
   * cluster's backend, to this VM's QEMU only: refused when it is not
   * running, and where another process could answer in its place (a port on
   * the host's loopback), an ImpostorError unless its QEMU holds the
   * connection.
   */
  async openStream(port: number): Promise<Duplex> {
    if (!this.alive || this.failure()) throw this.deadError()
    return this.backend.connect(this.plan, port, this.process.record.pid)
  }

  /** Open the control channel (used for readiness and by exec). */
  async connect(timeoutMs = CHANNEL_OPEN_TIMEOUT, abort?: Promise<never>, secret = this.secret()): Promise<ShellChannel> {
    const sock = await this.openStream(TELNET_PORT)
    return ShellChannel.open(sock, this.name, timeoutMs, abort, secret)
  }

  /** The cluster's secret, which the VM's telnet login asks for (see LOGIN_SCRIPT). */
  secret(): string {
    return readSecret(this.stateDir)
  }

  /** Take over the QEMU, records and channel of `fresh`, a new boot of this VM (restart). */
  adoptFrom(fresh: RunningVm): void {
    void this.closeChannel()
    // An ssh session of the old QEMU is gone with it; captures too.
    void this.sshSession?.then((s) => s.close()).catch(() => {})
    this.sshSession = undefined
    this.captures.clear()
    this.process = fresh.process
    this.record = fresh.record
    this.channel = fresh.channel
    this.rcFailures = fresh.rcFailures
  }

  /** Adopt a channel opened during readiness. */
  adoptChannel(ch: ShellChannel): void {
    this.channel = Promise.resolve(ch)
  }

  /** The open control channel, or a new one (one connect, however many calls ask at once). */
  private async getChannel(): Promise<ShellChannel> {
    for (;;) {
      const current = this.channel
      if (current) {
        const ch = await current.catch(() => undefined)
        if (ch?.alive) return ch
        if (this.channel !== current) continue
      }
      this.channel = this.connect()
      return this.channel
    }
  }

  /** Why the VM cannot be used: the cluster's failure (a lost ssh host), or its QEMU gone. */
  private deadError(cause?: unknown): XclusterError {
    const failure = this.failure()
    if (failure instanceof XclusterError) return failure
    return new ChannelError(
      `${this.name} is not running (QEMU ${this.process.exitReason ?? 'stopped'})\n--- console of ${this.name} (last lines) ---\n${this.consoleTail()}`,
      { cause },
    )
  }

  /** Run `command` in the VM's shell; resolves with its output and exit code whatever the code. */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.execRaw(command, opts)
    return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), exitCode: r.exitCode }
  }

  /** exec with stdout and stderr as bytes, exactly as the command wrote them. */
  async execRaw(command: string, opts: ExecOptions = {}): Promise<RawExecResult> {
    if (!this.alive || this.failure()) throw this.deadError()
    const timeout = opts.timeout ?? DEFAULT_EXEC_TIMEOUT
    for (let attempt = 1; ; attempt++) {
      try {
        const ch = await this.getChannel()
        return await this.whileAlive(ch, ch.exec(command, timeout))
      } catch (e) {
        // A reset connection is often the first sign that QEMU died: give its exit a moment to show.
        if (!(e instanceof XcTimeoutError || e instanceof ChannelRetiredError)) await waitFor(() => !this.alive, { timeoutMs: 1000, intervalMs: 20 })
        if (!this.alive) throw this.deadError(e)
        // Queued behind a command that timed out: run on a new channel.
        if (e instanceof ChannelRetiredError && attempt < 5) continue
        if (e instanceof XcTimeoutError) throw e
        throw new ChannelError(`${this.name}: ${(e as Error).message}`, { cause: e })
      }
    }
  }

  /**
   * `pending` on `ch`, watched: when the VM dies meanwhile the channel is
   * closed, so that the call fails in a moment rather than at its timeout (in
   * bridge mode nothing else tells: the relay's connection to a dead guest
   * stays open).
   */
  private async whileAlive<T>(ch: ShellChannel, pending: Promise<T>): Promise<T> {
    let settled = false
    void waitFor(() => !this.alive, { timeoutMs: 24 * 3600_000, intervalMs: 250, abort: () => settled }).then((dead) => {
      if (dead) ch.close()
    })
    try {
      return await pending
    } finally {
      settled = true
    }
  }

  /** True when one ping to `address` (IPv4 or IPv6) is answered within `waitSec`. */
  async ping(address: string, waitSec = 2): Promise<boolean> {
    if (!isIP(address)) throw new XclusterError(`${this.name}: ping needs an IPv4 or IPv6 address, got ${JSON.stringify(address)}`)
    if (!Number.isInteger(waitSec) || waitSec < 1) throw new XclusterError(`${this.name}: ping's wait must be a whole number of seconds, got ${waitSec}`)
    const ping = address.includes(':') ? 'ping6' : 'ping'
    // The bound is for a guest that stops answering, not for the ping: ping
    // ends itself after waitSec of guest time. Under load that is not wall
    // time: a 1 s ping6 took 2.7 s over the channel beside an 8-VM boot here,
    // and over 11 s once in CI (two shards of experiments), which failed an
    // unreachable check that had nothing wrong. The usual exec bound is added.
    const r = await this.exec(`${ping} -c1 -W${waitSec} ${address}`, { timeout: waitSec * 1000 + DEFAULT_EXEC_TIMEOUT })
    return r.exitCode === 0
  }

  /**
   * An ssh session as root (clusters with `tools: true`, which run dropbear),
   * with the cluster's key; stdout and stderr apart, files both ways.
   */
  async ssh(): Promise<SshSession> {
    if (this.sshSession) {
      const s = await this.sshSession.catch(() => undefined)
      if (s) return s
    }
    const key = join(this.stateDir, 'id_ed25519')
    if (!existsSync(key)) throw new ChannelError(`${this.name}: no ssh key: ssh needs a cluster started with tools: true`)
    const hostKey = await hostPublicKey(join(this.stateDir, 'dropbear_ed25519_host_key'))
    this.sshSession = this.openStream(SSH_PORT).then((sock) => SshSession.open(sock, this.name, readFileSync(key), hostKey))
    this.sshSession.catch(() => (this.sshSession = undefined))
    return this.sshSession
  }

  /** Copy `remote` from the VM to `local` on the host, byte for byte. */
  async getFile(remote: string, local: string): Promise<void> {
    const r = await this.execRaw(`cat ${shellQuote(remote)}`, { timeout: 300_000 })
    if (r.exitCode !== 0) throw new GuestCommandError(this.name, `cat ${remote}`, r.exitCode, '', r.stderr.toString())
    writeFileSync(local, r.stdout)
  }

  /** Copy `local` from the host to `remote` in the VM. */
  async putFile(local: string, remote: string, mode?: number): Promise<void> {
    const b64 = readFileSync(local).toString('base64')
    const chmod = mode !== undefined ? ` && chmod ${mode.toString(8)} ${shellQuote(remote)}` : ''
    await this.run(`echo ${b64} | base64 -d > ${shellQuote(remote)}${chmod}`, { timeout: 300_000 })
  }

  /** Start capturing on `iface` into a pcap file in the VM (needs tools: true); `filter` is a tcpdump expression. */
  async startCapture(iface: string, filter = ''): Promise<void> {
    await startCapture(this, iface, filter)
    this.captures.add(iface)
  }

  /** Stop the capture on `iface` and bring the pcap back (to `local` if given); resolves with its bytes. */
  async stopCapture(iface: string, local?: string): Promise<Buffer> {
    this.captures.delete(iface)
    return stopCapture(this, iface, local)
  }

  /** Send a QMP command to the VM's monitor. */
  async monitor(execute: string, args?: object): Promise<unknown> {
    const failure = this.failure()
    if (failure) throw failure
    if (!this.alive) throw new MonitorError(this.record.qmp, execute, `${this.name} is not running (QEMU ${this.process.exitReason ?? 'stopped'}): no monitor for ${execute}`)
    try {
      const [r] = await qmp(this.record.qmp, [{ execute, arguments: args }])
      return r
    } catch (e) {
      if (e instanceof MonitorError) throw new MonitorError(e.socket, execute, `${this.name}: ${e.message}`, { cause: e })
      throw e
    }
  }

  /** The VM's link on net `net`: down(), up(), impair({ delayMs, lossPercent, ... }), clear(). */
  link(net: number): LinkControl {
    return new LinkControl(this, net)
  }

  /** Kill the VM's QEMU at once (a crash, on purpose). */
  kill(): void {
    void this.closeChannel()
    this.process.kill()
  }

  /** Stop the VM and boot it again from scratch (same plan); resolves when its shell answers. */
  async restart(): Promise<void> {
    if (!this.restarter) throw new XclusterError(`${this.name}: restart() needs the cluster that started it`)
    await this.restarter(this)
  }

  /** Pause the VM's CPUs (QMP stop); its NICs and processes freeze. */
  async pause(): Promise<void> {
    await this.monitor('stop')
  }

  /** Resume after pause(). */
  async resume(): Promise<void> {
    await this.monitor('cont')
  }

  /**
   * Hard-reset the VM and wait until its shell answers again (within budget
   * `boot`, unless given). QEMU runs with -no-reboot (a guest crash ends QEMU,
   * which the harness reports at once), so the reboot action is switched to
   * reset for the duration.
   */
  async reset(timeoutMs = this.budgets.ms('boot', this.num)): Promise<void> {
    void this.closeChannel()
    await this.monitor('set-action', { reboot: 'reset' })
    await this.monitor('system_reset')
    const deadline = Date.now() + timeoutMs
    let last: unknown
    const up = await waitFor(
      async () => {
        try {
          this.adoptChannel(await this.connect(Math.max(1, Math.min(10_000, deadline - Date.now()))))
          return true
        } catch (e) {
          last = e
          return false
        }
      },
      { timeoutMs, intervalMs: 300, abort: () => !this.alive },
    )
    if (!this.alive) throw this.deadError(last)
    if (!up) throw new XcTimeoutError(`${this.name}: no shell within ${timeoutMs} ms after reset\n${this.consoleTail()}`)
    await this.monitor('set-action', { reboot: 'shutdown' })
  }

  /** Close the control channel and ssh session (the VM keeps running); resolves once they are closed. */
  closeChannel(): Promise<void> {
    const ch = this.channel
    const ssh = this.sshSession
    this.channel = undefined
    this.sshSession = undefined
    return Promise.all([ch?.then((c) => c.close()).catch(() => {}), ssh?.then((s) => s.close()).catch(() => {})]).then(() => {})
  }

  /** Stop the VM: QMP quit, then kill. Safe to call twice. */
  async stop(): Promise<void> {
    await this.closeChannel()
    await this.process.stop()
  }
}
