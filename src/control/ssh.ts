// ssh to a VM (dropbear in the guest, ssh2 here) over the same path as
// telnet: the loopback forward in user mode, the namespace relay in bridge
// mode. exec with separate stdout and stderr; files both ways (xcluster's
// rcp) by streaming through `cat`, since dropbear has no sftp server.
import { readFileSync, writeFileSync } from 'node:fs'
import type { Duplex } from 'node:stream'
import ssh2 from 'ssh2'
import { ChannelError, GuestCommandError, ImpostorError, XcTimeoutError } from '../errors.ts'
import { shellQuote as quote } from '../pure/quote.ts'
import { fingerprint } from '../host/ssh-host.ts'
import type { ExecResult } from './shell-channel.ts'


export class SshSession {
  private constructor(
    private readonly client: ssh2.Client,
    readonly vm: string,
  ) {}

  /**
   * Log in as root over `sock` with the cluster's private key, to a server
   * that shows `hostKey` (an ssh key blob: the VMs' host key, which the
   * harness made); any other is refused before anything is sent.
   */
  static open(sock: Duplex, vm: string, privateKey: string | Buffer, hostKey: Buffer, timeoutMs = 20_000): Promise<SshSession> {
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client()
      const timer = setTimeout(() => {
        client.end()
        reject(new XcTimeoutError(`${vm}: no ssh session within ${timeoutMs} ms (is dropbear running? tools: true starts it)`))
      }, timeoutMs)
      client.once('ready', () => {
        clearTimeout(timer)
        resolve(new SshSession(client, vm))
      })
      client.once('error', (e) => {
        clearTimeout(timer)
        reject(new ChannelError(`${vm}: ssh failed: ${e.message}`, { cause: e }))
      })
      let wrongKey = false
      client.once('error', () => {
        if (wrongKey) sock.destroy()
      })
      client.connect({
        sock: sock as never, username: 'root', privateKey, readyTimeout: timeoutMs,
        hostVerifier: (key: Buffer) => {
          wrongKey = !key.equals(hostKey)
          if (wrongKey) {
            clearTimeout(timer)
            reject(new ImpostorError(vm, `its ssh server shows a host key that is not the cluster's (${fingerprint(key)})`))
          }
          return !wrongKey
        },
      })
    })
  }

  /** Run `command`; resolves whatever its exit code, with stdout and stderr apart (as bytes). */
  execRaw(command: string, opts: { timeout?: number; stdin?: Buffer } = {}): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const timeout = opts.timeout ?? 30_000
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(new ChannelError(`${this.vm}: ssh exec failed: ${err.message}`, { cause: err }))
        const out: Buffer[] = []
        const errs: Buffer[] = []
        let code = -1
        const timer = setTimeout(() => {
          stream.close()
          reject(new XcTimeoutError(`${this.vm}: ssh command did not finish within ${timeout} ms: ${command}`))
        }, timeout)
        stream.on('data', (d: Buffer) => out.push(d))
        stream.stderr.on('data', (d: Buffer) => errs.push(d))
        stream.on('exit', (c: number | null) => (code = c ?? -1))
        stream.on('close', () => {
          clearTimeout(timer)
          resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(errs), exitCode: code })
        })
        stream.end(opts.stdin)
      })
    })
  }

  async exec(command: string, opts: { timeout?: number } = {}): Promise<ExecResult> {
    const r = await this.execRaw(command, opts)
    return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), exitCode: r.exitCode }
  }

  /** Copy `local` on the host to `remote` in the VM. */
  async put(local: string, remote: string): Promise<void> {
    const r = await this.execRaw(`cat > ${quote(remote)}`, { stdin: readFileSync(local), timeout: 300_000 })
    if (r.exitCode !== 0) throw new GuestCommandError(this.vm, `cat > ${remote}`, r.exitCode, '', r.stderr.toString())
  }

  /** Copy `remote` in the VM to `local` on the host. */
  async get(remote: string, local: string): Promise<void> {
    const r = await this.execRaw(`cat ${quote(remote)}`, { timeout: 300_000 })
    if (r.exitCode !== 0) throw new GuestCommandError(this.vm, `cat ${remote}`, r.exitCode, '', r.stderr.toString())
    writeFileSync(local, r.stdout)
  }

  close(): void {
    this.client.end()
  }
}
