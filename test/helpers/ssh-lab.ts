// Simulated ssh hosts for the tests of hosts over ssh: each a network
// namespace with its own address on a lab bridge (198.18.X.0/24, the
// benchmarking range, with room for VXLAN: MTU 1550) and its own Debian
// sshd (own host key, own authorized key, own config), started here with
// nsenter --net so that it shares this machine's files and /run/netns like a
// host shares its own. The harness reaches each only over ssh, at its
// address; everything stays on this machine. Needs root.
import { execa } from 'execa'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { procCmdline } from '../../src/host/proc.ts'
import { waitUntil, WaitTimeoutError } from '../../src/index.ts'

export const SSHD = '/usr/sbin/sshd'

export interface LabHost {
  name: string
  ns: string
  address: string
  /** The root-side veth of the host on the lab bridge. */
  veth: string
  /** The options of this host in `hosts` (without `vms`). */
  options: { ssh: string; key: string; knownHosts: string; dir: string }
  /** The harness's directory on it. */
  dir: string
  sshdPid?: number
}

/** The pids of `pid`'s descendants (by /proc ppid). */
function descendants(pid: number): number[] {
  const kids = new Map<number, number[]>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)])
    } catch {
      // gone
    }
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const k of kids.get(p) ?? []) {
      out.push(k)
      walk(k)
    }
  }
  walk(pid)
  return out
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

export class SshLab {
  readonly hosts: LabHost[] = []
  private madeRunSshd = false

  private constructor(
    readonly tmp: string,
    readonly bridge: string,
    readonly subnet: string,
    readonly clientKey: string,
  ) {}

  /** `extra`: more sshd_config lines per host name (a host that lies, say). */
  static async make(names: string[], extra: Record<string, string[]> = {}): Promise<SshLab> {
    const id = randomBytes(2).toString('hex')
    const used = (await execa('ip', ['-o', '-4', 'addr'])).stdout
    let third = 0
    do third = 1 + Math.floor(Math.random() * 250)
    while (used.includes(`198.18.${third}.`))
    const tmp = mkdtempSync(join(tmpdir(), 'xc-sshlab-'))
    const lab = new SshLab(tmp, `xcl${id}`, `198.18.${third}`, join(tmp, 'client_key'))
    try {
      await lab.setup(id, names, extra)
    } catch (e) {
      await lab.teardown()
      throw e
    }
    return lab
  }

  private async setup(id: string, names: string[], extra: Record<string, string[]>): Promise<void> {
    // sshd wants its privilege-separation directory (Debian's service makes it at start).
    if (!existsSync('/run/sshd')) {
      mkdirSync('/run/sshd', { mode: 0o755 })
      this.madeRunSshd = true
    }
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'xc-lab-client', '-f', this.clientKey])
    await execa('ip', ['link', 'add', this.bridge, 'type', 'bridge'])
    await execa('ip', ['link', 'set', this.bridge, 'mtu', '1550', 'up'])
    await execa('ip', ['addr', 'add', `${this.subnet}.254/24`, 'dev', this.bridge])
    for (const [i, name] of names.entries()) {
      const dir = join(this.tmp, name)
      mkdirSync(dir)
      const h: LabHost = {
        name, ns: `xcl${id}-${name}`, address: `${this.subnet}.${i + 1}`, veth: `xcl${id}${name}`, dir: join(dir, 'xc'),
        options: { ssh: `root@${this.subnet}.${i + 1}`, key: this.clientKey, knownHosts: join(this.tmp, 'known_hosts'), dir: join(dir, 'xc') },
      }
      this.hosts.push(h)
      await execa('ip', ['netns', 'add', h.ns])
      await execa('ip', ['link', 'add', h.veth, 'mtu', '1550', 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', '1550', 'netns', h.ns])
      await execa('ip', ['link', 'set', h.veth, 'master', this.bridge, 'up'])
      await execa('ip', ['-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0'])
      await execa('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'up'])
      await execa('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up'])
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `xc-lab-${name}`, '-f', join(dir, 'host_key')])
      writeFileSync(join(dir, 'authorized_keys'), readFileSync(this.clientKey + '.pub'))
      writeFileSync(join(dir, 'sshd_config'), [
        `ListenAddress ${h.address}:22`,
        `HostKey ${join(dir, 'host_key')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'Subsystem sftp internal-sftp',
        'LogLevel INFO',
        ...(extra[name] ?? []),
        '',
      ].join('\n'))
      writeFileSync(join(this.tmp, 'known_hosts'), `${h.address} ${readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`, { flag: 'a' })
      await this.startSshd(name)
    }
  }

  host(name: string): LabHost {
    const h = this.hosts.find((x) => x.name === name)
    if (!h) throw new Error(`no lab host ${name}`)
    return h
  }

  /** Start host `name`'s sshd (in its namespace, foreground, dying with this process) and wait until it listens. */
  async startSshd(name: string): Promise<void> {
    const h = this.host(name)
    const dir = join(this.tmp, name)
    const child = execa('setpriv', ['--pdeathsig', 'KILL', 'nsenter', `--net=/run/netns/${h.ns}`, SSHD, '-D', '-e', '-f', join(dir, 'sshd_config')], {
      stdin: 'ignore', stdout: { file: join(dir, 'sshd.log'), append: true }, stderr: { file: join(dir, 'sshd.log'), append: true }, reject: false, cleanup: true,
    })
    h.sshdPid = child.pid
    await waitUntil(() => new Promise<boolean>((resolve) => {
      const s = connect(22, h.address)
      s.once('connect', () => (s.destroy(), resolve(true)))
      s.once('error', () => resolve(false))
    }), { what: `lab sshd of ${name} listening (see ${join(dir, 'sshd.log')})`, timeout: 10_000, interval: 100 })
  }

  /** Kill host `name`'s sshd: the listener and every session sshd under it (the sessions' shells and programs are left to what they do when their sshd is gone). */
  async killSshd(name: string): Promise<void> {
    const h = this.host(name)
    if (!h.sshdPid) return
    const pids = [h.sshdPid, ...descendants(h.sshdPid).filter((p) => comm(p).startsWith('sshd'))]
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL')
      } catch {
        // gone
      }
    }
    // Gone, or not within 5 s (a zombie whose parent does not reap): the test looks at what follows from it.
    await waitUntil(() => pids.every((p) => !existsSync(`/proc/${p}`) || comm(p) === ''), { what: 'the killed sshd processes gone', timeout: 5000, interval: 50 }).catch((e) => {
      if (!(e instanceof WaitTimeoutError)) throw e
    })
    h.sshdPid = undefined
  }

  /** Processes whose argv names `text` (a cluster's directory on a host). */
  static processesNaming(text: string): number[] {
    return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => p !== process.pid && (procCmdline(p) ?? []).some((a) => a.includes(text)))
  }

  async teardown(): Promise<void> {
    for (const h of this.hosts) await this.killSshd(h.name)
    for (const h of this.hosts) await execa('ip', ['netns', 'delete', h.ns], { reject: false })
    await execa('ip', ['link', 'delete', this.bridge], { reject: false })
    rmSync(this.tmp, { recursive: true, force: true })
    if (this.madeRunSshd) rmSync('/run/sshd', { recursive: true, force: true })
  }
}
