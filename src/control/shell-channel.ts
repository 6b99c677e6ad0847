// A framed command channel over one telnet session to a VM. It takes over
// the interactive shell (`exec /bin/xc-ctl`, see ../image/guest-files.ts) and
// then runs commands one at a time, each answered with its own stdout,
// stderr and exit status, without prompt, echo or escape codes.
import { MARK, RS } from '../pure/protocol.ts'
import type { Duplex } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { ChannelError, ChannelRetiredError, ImpostorError, XcTimeoutError } from '../errors.ts'
import { answerLine, findChallenge } from './login.ts'
import { TelnetDecoder, telnetEncode } from './telnet-codec.ts'

export interface ExecResult {
  stdout: string
  stderr: string
  exitCode: number
}

export interface RawExecResult {
  stdout: Buffer
  stderr: Buffer
  exitCode: number
}

const READY = Buffer.from(`${RS}${MARK.ready}\n`)
/** Before the ready marker, when rc scripts failed at boot: their report, base64 (see CTL_SCRIPT). */
const RC_REPORT = new RegExp(`${RS}${MARK.rcReport} ([A-Za-z0-9+/=]*)\\n`)
/** Bound on a telnet login up to the shell's prompt (the wait for the boot's end comes after). */
const LOGIN_TIMEOUT_MS = 10_000
const PRINTABLE = /^[\x20-\x7e]*$/

interface Pending {
  id: string
  errMark: Buffer
  endMark: Buffer
  resolve: (r: RawExecResult) => void
  reject: (e: Error) => void
}

/** The line that asks xc-ctl to run `command` under request id `id`. */
export function encodeRequest(id: string, command: string): string {
  return PRINTABLE.test(command) ? `${id} p ${command}\n` : `${id} b ${Buffer.from(command).toString('base64')}\n`
}

export class ShellChannel {
  private buf: Buffer = Buffer.alloc(0)
  private pending?: Pending
  private queue: Promise<unknown> = Promise.resolve()
  private seq = 0
  private readonly tag = randomBytes(4).toString('hex')
  private closedError?: Error
  /** Set when a command of this channel timed out: what is queued behind it goes to a new channel. */
  private retired?: ChannelRetiredError
  /** The handshake waits for what `find` finds in the buffer (it returns where that ends, or -1). */
  private waiter?: { find: (buf: Buffer) => number; resolve: () => void; reject: (e: Error) => void }
  /** The guest's report of the rc scripts that failed at boot (parse it with parseRcReport); '' when none did. */
  rcReport = ''

  private constructor(
    private readonly sock: Duplex,
    readonly vm: string,
  ) {
    const decoder = new TelnetDecoder((bytes) => sock.write(bytes))
    sock.on('data', (chunk: Buffer) => this.onData(decoder.decode(chunk)))
    const onGone = (err?: Error): void => {
      this.fail(new ChannelError(`control channel to ${this.vm} closed${err ? `: ${err.message}` : ''}`, { cause: err }))
    }
    sock.on('error', onGone)
    sock.on('close', () => onGone())
    sock.resume()
  }

  /**
   * Take over a fresh telnet session on `sock`, bounded by `timeoutMs`,
   * answering the login's challenge with the cluster's `secret` (when its VMs
   * have one); `abort` (say, QEMU exiting) rejects at once and closes it.
   */
  static async open(sock: Duplex, vm: string, timeoutMs: number, abort?: Promise<never>, secret?: string): Promise<ShellChannel> {
    const ch = new ShellChannel(sock, vm)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        ch.handshake(secret),
        ...(abort ? [abort] : []),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new XcTimeoutError(`${vm}: no control shell within ${timeoutMs} ms (waited for the telnet prompt and xc-ctl)`)),
            timeoutMs,
          )
        }),
      ])
    } catch (e) {
      ch.close()
      throw e
    } finally {
      clearTimeout(timer)
    }
    return ch
  }

  private async handshake(secret?: string): Promise<void> {
    // The login challenges first (when the cluster has a secret); the answer
    // with " ctl" goes straight into xc-ctl, whose ready marker ends the
    // handshake. Without a secret the interactive shell shows itself (banner
    // or prompt) and is replaced by the control loop. The login is bounded on
    // its own: a session that shows no prompt in time is dropped, and the
    // caller opens another (once, under load during a topology's rc scripts,
    // a session stalled there for the whole boot).
    let timer: NodeJS.Timeout | undefined
    const login = async (): Promise<void> => {
      if (!secret) return this.expect()
      let challenge: ReturnType<typeof findChallenge>
      await this.expectWith((buf) => {
        challenge = findChallenge(buf.toString('latin1'))
        return challenge?.end ?? -1
      })
      const line = answerLine(secret, this.vm, challenge!, true)
      if (!line) throw new ImpostorError(this.vm, `the login on its telnet port says it is ${challenge!.vm}`)
      this.sock.write(telnetEncode(line))
    }
    try {
      await Promise.race([
        login(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new XcTimeoutError(`${this.vm}: no login prompt within ${LOGIN_TIMEOUT_MS} ms`)), LOGIN_TIMEOUT_MS)
        }),
      ])
    } finally {
      clearTimeout(timer)
    }
    // The ready marker; before it, the report of the rc scripts that failed at boot when any did.
    const ready = this.expectWith((buf) => {
      const i = buf.indexOf(READY)
      if (i < 0) return -1
      const rc = RC_REPORT.exec(buf.subarray(0, i).toString('latin1'))
      if (rc) this.rcReport = Buffer.from(rc[1], 'base64').toString('utf8')
      return i + READY.length
    })
    if (!secret) this.sock.write(telnetEncode('exec /bin/xc-ctl\n'))
    await ready
  }

  /** Resolves once `marker` has come (consuming what came up to its end), or any output when no marker is given. */
  private expect(marker?: string | Buffer): Promise<void> {
    const m = marker === undefined ? undefined : Buffer.from(marker)
    return this.expectWith((buf) => {
      // Any output: found, and nothing consumed (the control loop's first bytes may follow).
      if (!m) return buf.length ? 0 : -1
      const i = buf.indexOf(m)
      return i < 0 ? -1 : i + m.length
    })
  }

  /** Resolves once `find` finds what it looks for in the buffer, consuming it up to where `find` says it ends. */
  private expectWith(find: (buf: Buffer) => number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError)
      this.waiter = { find, resolve, reject }
      this.checkWaiter()
    })
  }

  /** Resolve the handshake's waiter if what it waits for is in the buffer. */
  private checkWaiter(): void {
    const w = this.waiter
    if (!w) return
    const end = w.find(this.buf)
    if (end < 0) return
    this.buf = this.buf.subarray(end)
    this.waiter = undefined
    w.resolve()
  }

  get alive(): boolean {
    return !this.closedError
  }

  private onData(data: Buffer): void {
    if (data.length === 0) return
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data
    if (this.waiter) return this.checkWaiter()
    this.parse()
  }

  private parse(): void {
    const p = this.pending
    if (!p) return
    const e = this.buf.indexOf(p.errMark)
    if (e < 0) return
    const end = this.buf.indexOf(p.endMark, e + p.errMark.length)
    if (end < 0) return
    const nl = this.buf.indexOf(0x0a, end + p.endMark.length)
    if (nl < 0) return
    const exitCode = Number(this.buf.subarray(end + p.endMark.length, nl).toString('ascii'))
    const result: RawExecResult = {
      stdout: Buffer.from(this.buf.subarray(0, e)),
      stderr: Buffer.from(this.buf.subarray(e + p.errMark.length, end)),
      exitCode,
    }
    this.buf = this.buf.subarray(nl + 1)
    this.pending = undefined
    p.resolve(result)
  }

  private fail(err: Error): void {
    if (this.closedError) return
    this.closedError = err
    this.waiter?.reject(err)
    this.waiter = undefined
    this.pending?.reject(err)
    this.pending = undefined
  }

  /** Run `command` in the guest's shell; queued behind earlier commands. */
  exec(command: string, timeoutMs: number): Promise<RawExecResult> {
    const run = (): Promise<RawExecResult> =>
      new Promise<RawExecResult>((resolve, reject) => {
        if (this.closedError) return reject(this.retired ?? this.closedError)
        const id = `${this.tag}${(this.seq++).toString(36)}`
        let timer: NodeJS.Timeout | undefined
        this.pending = {
          id,
          errMark: Buffer.from(`${RS}${MARK.err} ${id}\n`),
          endMark: Buffer.from(`${RS}${MARK.end} ${id} `),
          resolve: (r) => {
            clearTimeout(timer)
            resolve(r)
          },
          reject: (e) => {
            clearTimeout(timer)
            reject(e)
          },
        }
        timer = setTimeout(() => {
          // Closing the session hangs up the guest's shell: the command is
          // stopped inside the VM too. Only this command fails; the ones
          // queued behind it are told to run on a new channel.
          const err = new XcTimeoutError(`${this.vm}: command did not finish within ${timeoutMs} ms: ${command}`)
          this.retired = new ChannelRetiredError(`control channel to ${this.vm} was closed: an earlier command timed out`)
          this.fail(err)
          this.sock.destroy()
        }, timeoutMs)
        // Output of earlier background jobs is not this command's output.
        this.buf = Buffer.alloc(0)
        this.sock.write(telnetEncode(encodeRequest(id, command)))
      })
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => {})
    return next
  }

  close(): void {
    this.fail(new ChannelError(`control channel to ${this.vm} was closed by the harness`))
    this.sock.destroy()
  }
}
