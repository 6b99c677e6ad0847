// QEMU on a cluster's ssh hosts. Its files (kernel, initramfs, disks) are
// copied into the host's cache once, by their content's hash, and checked
// again there before each reuse; the cluster's own into its directory there.
// Bound to this process, QEMU runs in the host's cluster namespace under an
// ssh session whose end ends it (a watchdog reads the session's stdin), its
// console back on the session's stdout; detached (xc start), it daemonizes
// there and is followed (tail --pid) while this process lives. Its monitor is
// served here, each connection forwarded over ssh (direct-streamlocal).
import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, createReadStream, createWriteStream, existsSync, rmSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { basename } from 'node:path'
import { HostCommandError, XclusterError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { argvNames } from '../host/remote-cleanup.ts'
import { cachedFileScript } from '../host/remote-dir.ts'
import type { ProcHandle } from '../host/spawner.ts'
import { sshNetns, sshRunDir, type SshHosts } from '../host/ssh-cluster.ts'
import type { SshHost } from '../host/ssh-host.ts'
import type { ProcessRecord } from '../host/state-dir.ts'
import type { VmPlan } from '../plan/plan.ts'
import { shellQuote as q } from '../pure/quote.ts'
import type { SshHostSpec } from '../plan/spec.ts'
import { QemuProcess } from './launcher.ts'
import type { QemuFiles, QemuRunner } from './runner.ts'

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

export interface SshRunnerOptions {
  /** The cluster's id and its state directory here (its own files there go with it). */
  id: string
  stateDir: string
  /** Started by xc start: its QEMUs daemonize there and outlive this process. */
  detached: boolean
  /** The hosts as the options give them (their directories). */
  specs: Record<string, SshHostSpec>
  /** Each host's accelerator for VMs, as asked for. */
  accel: 'auto' | 'kvm' | 'tcg'
  /** The first host, for VMs the placement did not name one. */
  firstHost: string
  /** Why the cluster cannot be used any more (a host lost), when it cannot. */
  failure: () => Error | undefined
  log: Logger
}

export class SshRunner implements QemuRunner {
  private readonly qmpServers = new Map<string, Server>()
  private readonly staged = new Map<string, Promise<string>>()

  constructor(
    private readonly ssh: SshHosts,
    private readonly o: SshRunnerOptions,
  ) {}

  hostOf(vm: VmPlan): string {
    return vm.host ?? this.o.firstHost
  }

  accelOf(vm: VmPlan): 'kvm' | 'tcg' {
    return this.o.accel !== 'tcg' && this.ssh.facts.get(this.hostOf(vm))?.kvm ? 'kvm' : 'tcg'
  }

  private host(name: string): SshHost {
    const h = this.ssh.hosts.get(name)
    if (!h) throw new XclusterError(`no ssh connection to host ${name}`)
    return h
  }

  private runDir(name: string): string {
    return sshRunDir(this.o.specs[name].dir, this.o.id, name)
  }

  files(vm: VmPlan): QemuFiles {
    const dir = this.runDir(this.hostOf(vm))
    // Bound to this process, the console comes back on the session's stdout; detached, it is a file there, followed by tail.
    return { console: this.o.detached ? `${dir}/${vm.name}.console` : '/dev/stdout', qmp: `${dir}/${vm.name}.qmp`, pidfile: `${dir}/${vm.name}.pid` }
  }

  /** The remote path of `local` on `vm`'s host: copied into its cache once (by the file's hash), or a file of the cluster's own into its directory there. */
  stage(vm: VmPlan, local: string): Promise<string> {
    const name = this.hostOf(vm)
    // By content's identity: a file written again (the initramfs of a scale-out) is copied again.
    const st = statSync(local)
    const key = `${name}\0${local}\0${st.size}\0${st.mtimeMs}`
    let p = this.staged.get(key)
    if (!p) {
      p = (async () => {
        const h = this.host(name)
        // The cluster's own files (its initramfs) go to its directory there, and go with it; the image and layers to the cache, by hash.
        const own = local.startsWith(this.o.stateDir + '/')
        const cache = own ? this.runDir(name) : `${this.o.specs[name].dir}/cache`
        const remote = own ? `${cache}/${basename(local)}` : `${cache}/${(await fileHash(local)).slice(0, 20)}-${basename(local)}`
        // Reused only when it is what was put there: root's, unchanged, its hash the local file's.
        if (!own && (await h.run('sh -s', { input: cachedFileScript(remote, await fileHash(local)) })).code === 0) return remote
        const mb = Math.round(statSync(local).size / 1e6)
        if (mb >= 10) this.o.log.child(`host ${name}`).info(`copying ${basename(local)} (${mb} MB) to ${cache} (once: it is kept there by its hash)`)
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

  async launch(vm: VmPlan, argv: string[], local: QemuFiles & { log: string }): Promise<QemuProcess> {
    const failure = this.o.failure()
    if (failure) throw failure
    const { record, handle } = this.o.detached ? await this.launchDetached(vm, argv, local) : await this.launchBound(vm, argv, local)
    return new QemuProcess(record, local.qmp, handle)
  }

  async adopt(vm: VmPlan, record: ProcessRecord, local: QemuFiles): Promise<QemuProcess> {
    return new QemuProcess(record, local.qmp, await this.follow(vm, record.pid, local))
  }

  /** QEMU under an ssh session of this process: it ends with the session. */
  private async launchBound(vm: VmPlan, argv: string[], local: QemuFiles & { log: string }): Promise<{ record: ProcessRecord; handle: ProcHandle }> {
    const name = this.hostOf(vm)
    const h = this.host(name)
    const dir = this.runDir(name)
    this.qmpServers.get(vm.name)?.close()
    const ch = await h.session(launchScript(sshNetns(this.o.id, name), argv, dir))
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
    this.serveQmp(vm.name, local.qmp, h, this.files(vm).qmp)
    return { record: { pid: remotePid }, handle }
  }

  /**
   * Detached (xc start): QEMU daemonizes there, with its console in a file
   * there; it runs on after this process, until xc stop. This process follows
   * it (follow) while it lives.
   */
  private async launchDetached(vm: VmPlan, argv: string[], local: QemuFiles & { log: string }): Promise<{ record: ProcessRecord; handle: ProcHandle }> {
    const name = this.hostOf(vm)
    const { pidfile } = this.files(vm)
    const r = await this.host(name).run(
      `cd ${q(this.runDir(name))} || exit 1
ip netns exec ${q(sshNetns(this.o.id, name))} ${argv.map(q).join(' ')} -daemonize </dev/null || exit $?
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
    this.serveQmp(vm.name, local.qmp, h, this.files(vm).qmp)
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
    server.on('error', (e) => this.o.log.child(vm).warn(`its monitor at ${path}: ${e.message}`))
    const umask = process.umask(0o177)
    try {
      server.listen(path)
    } finally {
      process.umask(umask)
    }
    server.unref()
    this.qmpServers.set(vm, server)
  }

  /** The monitor of `vm` served here goes (scale-in, restart). */
  release(vm: VmPlan): void {
    this.qmpServers.get(vm.name)?.close()
    this.qmpServers.delete(vm.name)
  }

  close(): void {
    for (const s of this.qmpServers.values()) s.close()
    this.qmpServers.clear()
  }
}
