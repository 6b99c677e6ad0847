// An ssh host of a cluster (hosts: { a: { ssh: 'root@10.0.0.2' } }): the
// ssh2 connections to it, its host key checked against known_hosts, commands
// and long-lived sessions on it, files copied to it (sftp), its Unix sockets
// reached (direct-streamlocal), and the news that it is lost. OpenSSH allows
// 10 sessions per connection (MaxSessions): a host is a pool of connections
// with at most SESSIONS_PER_CONNECTION sessions each, and one more is dialled
// when they are taken. A connection that closes without being asked to means
// the host is lost (its sshd gone, or the network to it down: the keepalive
// notices within about KEEPALIVE_MS * KEEPALIVE_COUNT).
import { createHash, createHmac } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import ssh2 from 'ssh2'
import { XclusterError, XcTimeoutError } from '../errors.ts'
import type { SshHostSpec } from '../plan/spec.ts'

/** How to reach one ssh host: what its options give (key: a private key file, else the agent, else ~/.ssh/id_*; knownHosts: else ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts), and its name in the cluster (a, b). */
export interface SshTarget extends Pick<SshHostSpec, 'user' | 'address' | 'port' | 'key' | 'knownHosts'> {
  name: string
}

/** `user@address[:port]` as a person reads it. */
export function targetLabel(t: Pick<SshTarget, 'user' | 'address' | 'port'>): string {
  return `${t.user}@${t.address}${t.port === 22 ? '' : `:${t.port}`}`
}

/** OpenSSH's MaxSessions is 10 by default: two are left for a person's own ssh. */
export const SESSIONS_PER_CONNECTION = 8
export const KEEPALIVE_MS = 1000
export const KEEPALIVE_COUNT = 5

/** The type name at the start of an ssh public key blob (uint32 length, then the name). */
function keyType(blob: Buffer): string {
  return blob.length >= 4 ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString() : ''
}

/** The fingerprint ssh-keygen -l shows. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')
}

/** True when the host field of a known_hosts line (patterns, or a hashed |1|salt|hash) names one of `names`. */
function matchesHost(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|')
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash
  }
  let hit = false
  for (const pat of field.split(',')) {
    const neg = pat.startsWith('!')
    const re = new RegExp('^' + (neg ? pat.slice(1) : pat).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i')
    if (re.test(name)) {
      if (neg) return false
      hit = true
    }
  }
  return hit
}

/** Why `key`, presented by `t`, is not to be trusted; undefined when a known_hosts file has it for that host and port and none revokes it. */
export function hostKeyProblem(t: SshTarget, key: Buffer): string | undefined {
  const files = t.knownHosts ? [t.knownHosts] : [join(homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts']
  const name = t.port === 22 ? t.address : `[${t.address}]:${t.port}`
  const type = keyType(key)
  // Every line for this host first: a key revoked anywhere (before or after a line that has it) is refused.
  const lines: Array<{ at: string; marker?: string; type: string; blob: Buffer }> = []
  for (const f of files) {
    if (!existsSync(f)) continue
    for (const [i, raw] of readFileSync(f, 'utf8').split('\n').entries()) {
      const line = raw.trim()
      if (!line || line.startsWith('#')) continue
      const fields = line.split(/\s+/)
      const marker = fields[0].startsWith('@') ? fields.shift() : undefined
      if (marker === '@cert-authority' || fields.length < 3 || !matchesHost(fields[0], name)) continue
      lines.push({ at: `${f}:${i + 1}`, marker, type: fields[1], blob: Buffer.from(fields[2], 'base64') })
    }
  }
  const revoked = lines.find((l) => l.marker === '@revoked' && l.blob.equals(key))
  if (revoked) return `the host key of ${targetLabel(t)} (${fingerprint(key)}) is marked @revoked in ${revoked.at}`
  const plain = lines.filter((l) => l.marker === undefined)
  if (plain.some((l) => l.blob.equals(key))) return undefined
  const changed = plain.find((l) => l.type === type)?.at
  if (changed) {
    return `the host key of ${targetLabel(t)} (${fingerprint(key)}) is not the one in ${changed}: if the host was reinstalled, remove that line (ssh-keygen -R '${name}'${t.knownHosts ? ` -f ${t.knownHosts}` : ''}) and add the new key; otherwise someone is in between`
  }
  return `the host key of ${targetLabel(t)} (${type} ${fingerprint(key)}) is not in ${files.join(' or ')}: check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and add it, e.g. ssh-keyscan -p ${t.port} ${t.address} >> ${t.knownHosts ?? '~/.ssh/known_hosts'}`
}

/** How to log in to `t`: its key file, the agent, or the user's default key. */
function authOf(t: SshTarget): { privateKey?: Buffer; agent?: string } {
  if (t.key) return { privateKey: readFileSync(t.key) }
  if (process.env.SSH_AUTH_SOCK) return { agent: process.env.SSH_AUTH_SOCK }
  for (const n of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const p = join(homedir(), '.ssh', n)
    if (existsSync(p)) return { privateKey: readFileSync(p) }
  }
  throw new XclusterError(`no ssh key for ${targetLabel(t)}: give the host a \`key\` (a private key file), run an ssh agent (SSH_AUTH_SOCK), or make ~/.ssh/id_ed25519`)
}

/** One ssh2 connection to `t`, its host key checked; rejects with the reason a person can act on. */
function dial(t: SshTarget, timeoutMs: number): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client()
    let keyProblem: string | undefined
    let auth: ReturnType<typeof authOf>
    try {
      auth = authOf(t)
    } catch (e) {
      return reject(e)
    }
    client.once('ready', () => resolve(client))
    client.once('error', (e: Error & { level?: string }) => {
      client.end()
      const why = keyProblem ?? (e.level === 'client-authentication' ? `${t.user} was not let in with ${t.key ? `the key ${t.key}` : auth.agent ? 'the keys of the ssh agent' : 'the default key'} (is its public key in ~${t.user}/.ssh/authorized_keys there?)` : e.message)
      reject(new XclusterError(why, { cause: e }))
    })
    try {
      client.connect({
        host: t.address, port: t.port, username: t.user, readyTimeout: timeoutMs,
        keepaliveInterval: KEEPALIVE_MS, keepaliveCountMax: KEEPALIVE_COUNT,
        ...auth,
        hostVerifier: (key: Buffer) => {
          keyProblem = hostKeyProblem(t, key)
          return keyProblem === undefined
        },
      } as ssh2.ConnectConfig)
    } catch (e) {
      // A key ssh2 cannot read (an encrypted one without the agent) throws here.
      reject(new XclusterError(`the key ${t.key ?? ''} of ${targetLabel(t)} cannot be used: ${(e as Error).message} (an encrypted key goes through the ssh agent)`, { cause: e }))
    }
  })
}

interface Conn {
  client: ssh2.Client
  /** Sessions open (and reserved) on it. */
  open: number
  /** How many it may have: lowered when the server refuses one. */
  cap: number
}

export interface RunResult {
  stdout: string
  stderr: string
  code: number
}

export class SshHost {
  private conns: Conn[] = []
  private dialing?: Promise<Conn>
  private closing = false
  private lostReason?: string
  private readonly lostListeners: Array<(reason: string) => void> = []

  private constructor(readonly target: SshTarget) {}

  get label(): string {
    return targetLabel(this.target)
  }

  /** Connect to `t` (the first connection of the pool). */
  static async connect(t: SshTarget, timeoutMs = 10_000): Promise<SshHost> {
    const h = new SshHost(t)
    h.adopt(await dial(t, timeoutMs))
    return h
  }

  /** Why the host was lost, once it has been. */
  get lost(): string | undefined {
    return this.lostReason
  }

  /** Called once, when the host is lost. */
  onLost(fn: (reason: string) => void): void {
    this.lostListeners.push(fn)
  }

  private adopt(client: ssh2.Client): Conn {
    const c: Conn = { client, open: 0, cap: SESSIONS_PER_CONNECTION }
    this.conns.push(c)
    let last: string | undefined
    client.on('error', (e) => (last = e.message))
    client.on('close', () => {
      this.conns = this.conns.filter((x) => x !== c)
      if (!this.closing) this.markLost(last === 'Keepalive timeout' ? `no answer to ssh keepalives for ${(KEEPALIVE_MS * KEEPALIVE_COUNT) / 1000} s (the network to it is down, or it stopped)` : last ? `its ssh connection failed: ${last}` : 'its ssh connection was closed (its sshd is gone?)')
    })
    return c
  }

  private markLost(reason: string): void {
    if (this.lostReason) return
    this.lostReason = reason
    for (const c of this.conns) c.client.end()
    for (const fn of this.lostListeners) fn(reason)
  }

  private gone(): XclusterError {
    return new XclusterError(`host ${this.target.name} (${this.label}): ${this.lostReason ?? 'closed'}`)
  }

  /** A connection with a free session, one reserved on it. */
  private async acquire(): Promise<Conn> {
    for (;;) {
      if (this.lostReason || this.closing) throw this.gone()
      const free = this.conns.find((c) => c.open < c.cap)
      if (free) {
        free.open++
        return free
      }
      this.dialing ??= dial(this.target, 10_000).then(
        (client) => {
          this.dialing = undefined
          return this.adopt(client)
        },
        (e) => {
          this.dialing = undefined
          throw e
        },
      )
      await this.dialing
    }
  }

  /** Start `command` in a session of its own; the caller reads and ends the channel. */
  async session(command: string): Promise<ssh2.ClientChannel> {
    for (;;) {
      const c = await this.acquire()
      try {
        const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))))
        ch.once('close', () => c.open--)
        return ch
      } catch (e) {
        c.open--
        // The server allows fewer sessions than asked (MaxSessions): this connection is full, the next one is dialled.
        if (/open failed|administratively prohibited/i.test((e as Error).message) && c.open > 0) {
          c.cap = c.open
          continue
        }
        throw this.lostReason ? this.gone() : e
      }
    }
  }

  /** Run `command` (a shell line) to its end; resolves with its output and exit code whatever the code. */
  async run(command: string, o: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
    const ch = await this.session(command)
    return new Promise((resolve, reject) => {
      const out: Buffer[] = []
      const err: Buffer[] = []
      let code: number | undefined
      const timer = o.timeoutMs
        ? setTimeout(() => {
            ch.close()
            reject(new XcTimeoutError(`host ${this.target.name} (${this.label}): no end of \`${command.slice(0, 80)}\` within ${o.timeoutMs} ms`))
          }, o.timeoutMs)
        : undefined
      ch.on('data', (d: Buffer) => out.push(d))
      ch.stderr.on('data', (d: Buffer) => err.push(d))
      ch.on('exit', (c: number | null) => (code = c ?? -1))
      ch.on('close', () => {
        clearTimeout(timer)
        if (code === undefined && this.lostReason) return reject(this.gone())
        resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code: code ?? -1 })
      })
      ch.end(o.input)
    })
  }

  /** Copy the local file `local` to `remote` (sftp). */
  async upload(local: string, remote: string): Promise<void> {
    const c = await this.acquire()
    try {
      await new Promise<void>((resolve, reject) => {
        c.client.sftp((err, sftp) => {
          if (err) return reject(err)
          sftp.fastPut(local, remote, { concurrency: 16, chunkSize: 65536 }, (e) => {
            sftp.end()
            if (e) reject(e)
            else resolve()
          })
        })
      })
    } finally {
      c.open--
    }
  }

  /** A byte stream to the Unix socket `path` on the host (OpenSSH's direct-streamlocal; not a session). */
  async forwardUnix(path: string): Promise<Duplex> {
    if (this.lostReason || this.closing || !this.conns.length) throw this.gone()
    const c = this.conns[0]
    return new Promise((resolve, reject) => c.client.openssh_forwardOutStreamLocal(path, (err, ch) => (err ? reject(err) : resolve(ch))))
  }

  /** Close every connection (not a loss). */
  close(): void {
    this.closing = true
    for (const c of this.conns) c.client.end()
  }
}
