// The guest verbs of a VM handle, as the NixOS test driver has them:
// succeed, fail, waitUntilSucceeds, waitUntilFails, waitForPort,
// waitForFile and waitUntil. Each wait is bounded by a named budget scaled
// for this machine, runs on the one retry (./wait-until.ts), and when it runs
// out says which VM, what for, how long, and what the last attempt printed.
// RunningVm extends this with what a verb needs: a name, a number and exec.
import { GuestCommandError, UnexpectedSuccessError } from '../errors.ts'
import type { ExecResult } from '../control/shell-channel.ts'
import { shellQuote } from '../pure/quote.ts'
import type { Logger } from '../log.ts'
import { WaitBudgets, type WaitUntilOptions } from './budgets.ts'
import { resolveWait, retryUntil, type Attempt } from './wait-until.ts'

/** The bound on one command, ms, when none is given (the command is stopped in the VM when it runs out). */
export const DEFAULT_EXEC_TIMEOUT = 30_000

export interface ExecOptions {
  /** Bound on the command, ms (default 30 s). The command is stopped in the VM when it runs out. */
  timeout?: number
}

/** The options of a wait for a port: its protocol besides the wait's own. */
export interface PortWaitOptions extends WaitUntilOptions {
  /** 'tcp' (a listening socket, the default) or 'udp' (a bound one). */
  proto?: 'tcp' | 'udp'
}

/** Local ports of sockets in `/proc/net/{tcp,udp}{,6}` text: TCP's listening, UDP's bound. */
export function listeningPorts(procNet: string, proto: 'tcp' | 'udp'): number[] {
  const ports = new Set<number>()
  for (const line of procNet.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 4 || !/^\d+:$/.test(f[0])) continue
    if (proto === 'tcp' && f[3] !== '0A') continue
    const port = parseInt(f[1].split(':').pop() ?? '', 16)
    if (Number.isInteger(port)) ports.add(port)
  }
  return [...ports].sort((a, b) => a - b)
}

export abstract class GuestVerbs {
  abstract get name(): string
  abstract get num(): number
  /** Run `command` in the VM's shell; resolves with its output and exit code whatever the code. */
  abstract exec(command: string, opts?: ExecOptions): Promise<ExecResult>
  /** The budgets this VM's waits are bounded by (set by its cluster: its own, scaled for this machine). */
  budgets = new WaitBudgets()
  /** Where this VM's waits are told (set by its cluster: its logger). */
  verbLog?: Logger

  /** Run `command` and resolve with its stdout; a non-zero exit is a GuestCommandError (VM, command, exit code, output). */
  async succeed(command: string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(command, opts)
    if (r.exitCode !== 0) throw new GuestCommandError(this.name, command, r.exitCode, r.stdout, r.stderr)
    return r.stdout
  }

  /** succeed() by its older name: the same verb. */
  run(command: string, opts: ExecOptions = {}): Promise<string> {
    return this.succeed(command, opts)
  }

  /** Run `command`, which must fail: resolves with its result (exit code, output); exit 0 is an UnexpectedSuccessError. */
  async fail(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(command, opts)
    if (r.exitCode === 0) throw new UnexpectedSuccessError(this.name, command, r.stdout, r.stderr)
    return r
  }

  /** Run `command` until it exits 0 (its stdout), within its budget (default `default`). */
  waitUntilSucceeds(command: string, o: WaitUntilOptions = {}): Promise<string> {
    return this.retry(({ remainingMs }) => this.succeed(command, { timeout: attemptBound(remainingMs) }), o, `\`${command}\` to succeed`)
  }

  /** Run `command` until it exits non-zero (its result), within its budget. */
  waitUntilFails(command: string, o: WaitUntilOptions = {}): Promise<ExecResult> {
    return this.retry(({ remainingMs }) => this.fail(command, { timeout: attemptBound(remainingMs) }), o, `\`${command}\` to fail`)
  }

  /** Wait until a socket listens on `port` in the VM (TCP; `proto: 'udp'` a bound UDP socket), within budget `port`. */
  async waitForPort(port: number, o: PortWaitOptions = {}): Promise<void> {
    const proto = o.proto ?? 'tcp'
    const files = proto === 'tcp' ? '/proc/net/tcp /proc/net/tcp6' : '/proc/net/udp /proc/net/udp6'
    await this.retry(
      async ({ remainingMs }) => {
        const ports = listeningPorts(await this.succeed(`cat ${files} 2>/dev/null; true`, { timeout: attemptBound(remainingMs) }), proto)
        if (ports.includes(port)) return true
        throw new Error(`nothing ${proto === 'tcp' ? 'listens' : 'is bound'} on ${proto} port ${port}; ${proto === 'tcp' ? 'listening' : 'bound'}: ${ports.join(', ') || 'none'}`)
      },
      o,
      `${proto} port ${port} to ${proto === 'tcp' ? 'listen' : 'be bound'}`,
      'port',
    )
  }

  /** Wait until `path` exists in the VM, within budget `file`. */
  async waitForFile(path: string, o: WaitUntilOptions = {}): Promise<void> {
    await this.retry(({ remainingMs }) => this.succeed(`test -e ${shellQuote(path)}`, { timeout: attemptBound(remainingMs) }), o, `file ${path}`, 'file')
  }

  /** Wait until `fn` holds, as cluster.waitUntil does, on this VM's budgets and in its name. */
  waitUntil<T>(fn: () => T | false | Promise<T | false>, o: WaitUntilOptions & { what: string }): Promise<T> {
    return this.retry(() => fn(), o, o.what)
  }

  private retry<T>(attempt: Attempt<T>, o: WaitUntilOptions, what: string, budget?: string): Promise<T> {
    return retryUntil(attempt, { ...resolveWait(this.budgets, o, what, this, budget), log: this.verbLog })
  }
}

/** One attempt's bound on its command: what is left of the wait, at least 5 s (a loaded machine) and at most the usual 30 s. */
function attemptBound(remainingMs: number): number {
  return Math.max(5000, Math.min(DEFAULT_EXEC_TIMEOUT, remainingMs))
}
