// How a cluster starts its long-lived host processes (QEMU, the namespace
// relay), chosen once per cluster: directly, as children of this process
// that die with it, or through the keeper of a detached cluster (xc start),
// which parents them after this process has exited.
import { execa } from 'execa'
import type { Logger } from '../log.ts'
import { commandLine } from './run.ts'
import { keeperSpawn } from './keeper.ts'
import { procStartTime, sameProcess, waitGone } from './proc.ts'
import type { ProcessRecord } from './state-dir.ts'
import { which } from './which.ts'

export interface Spawned {
  record: ProcessRecord
  /** Why it ended, once it has (only known for a child of this process). */
  exited?: Promise<string>
}

/** A process and how to ask after it and end it: by its pid on this machine (pidHandle), or through its session on an ssh host. */
export interface ProcHandle {
  readonly alive: boolean
  /** Why it is gone, once it is. */
  readonly exitReason?: string
  /** End it at once. */
  kill(): void
  /** Resolves true once it is gone, false after `timeoutMs`. */
  waitGone(timeoutMs: number): Promise<boolean>
}

/**
 * The handle of process `record` on this machine: alive while its pid is the
 * process that started at its recorded start time; `exited` (a child of this
 * process) tells why it ended.
 */
export function pidHandle(record: ProcessRecord, exited?: Promise<string>): ProcHandle {
  let why: string | undefined
  void exited?.then((w) => (why = w))
  return {
    get alive() {
      return why === undefined && sameProcess(record.pid, record.startTime)
    },
    get exitReason() {
      return why
    },
    kill() {
      if (!sameProcess(record.pid, record.startTime)) return
      try {
        process.kill(record.pid, 'SIGKILL')
      } catch {
        // gone between the check and the kill
      }
    },
    waitGone: (ms) => waitGone(record.pid, ms),
  }
}

export interface Spawner {
  readonly kind: 'direct' | 'keeper'
  /** Start `argv` (no shell) with stdout and stderr appended to `log`. */
  spawn(argv: string[], log: string): Promise<Spawned>
}

/**
 * The argv that runs `argv` with PR_SET_PDEATHSIG set to SIGKILL (util-linux
 * setpriv): the kernel kills it when its parent dies, however the parent
 * dies (SIGKILL included). It survives the exec of `ip netns exec`, which
 * execs without forking. Without setpriv, `argv` as it is.
 */
export function dieWithParent(argv: string[]): string[] {
  const setpriv = which('setpriv')
  return setpriv ? [setpriv, '--pdeathsig', 'KILL', ...argv] : argv
}

/** Children of this process that die with it: by the kernel (dieWithParent), and by execa's cleanup on a normal exit. */
export class DirectSpawner implements Spawner {
  readonly kind = 'direct' as const
  constructor(private readonly logger?: Logger) {}

  async spawn(argv: string[], log: string): Promise<Spawned> {
    this.logger?.debug(`start: ${commandLine(argv)} (output to ${log})`)
    const [file, ...args] = dieWithParent(argv)
    const out = { file: log, append: true }
    // QEMU makes its monitor socket with the umask it inherits: 0600, not 0755.
    const umask = process.umask(0o177)
    try {
      const child = execa(file, args, { stdin: 'ignore', stdout: out, stderr: out, reject: false, cleanup: true })
      const pid = child.pid!
      const exited = child.then((r) => (r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`))
      return { record: { pid, startTime: procStartTime(pid) }, exited }
    } finally {
      process.umask(umask)
    }
  }
}

/** Children of the detached cluster's keeper at `socket` (see keeper.mjs). */
export class KeeperSpawner implements Spawner {
  readonly kind = 'keeper' as const
  constructor(
    readonly socket: string,
    private readonly logger?: Logger,
  ) {}

  async spawn(argv: string[], log: string): Promise<Spawned> {
    this.logger?.debug(`start through the keeper: ${commandLine(argv)} (output to ${log})`)
    return { record: await keeperSpawn(this.socket, argv, log) }
  }
}

/** The spawner of a cluster whose keeper socket is `keeper` (none: direct). */
export function spawnerFor(keeper: string | undefined, logger?: Logger): Spawner {
  return keeper ? new KeeperSpawner(keeper, logger) : new DirectSpawner(logger)
}
