// Named errors of the harness. "The test failed" (GuestCommandError) and
// "the harness broke" (everything else) are different classes. Code tells
// them apart by class and fields, never by matching a message.

/** Base class of every error the harness throws on purpose. */
export class XclusterError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Cluster options that cannot work; lists every problem found, nothing was started. */
export class ClusterConfigError extends XclusterError {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(
      `Invalid cluster options (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    )
    this.problems = problems
  }
}

/** A host program or file the harness needs is missing; says how to get it. */
export class MissingDependencyError extends XclusterError {}

/** Options that need rights (root or CAP_NET_ADMIN) this process lacks; lists every problem too. */
export class PermissionError extends ClusterConfigError {}

/** A VM did not come up in time; carries the tail of its console log. */
export class VmBootError extends XclusterError {
  constructor(
    readonly vm: string,
    readonly reason: string,
    readonly consoleTail: string,
    options?: { cause?: unknown },
  ) {
    super(`${vm} did not boot: ${reason}\n--- console of ${vm} (last lines) ---\n${consoleTail}`, options)
  }
}

/** A command inside a VM exited non-zero (this is a test failure, not a harness failure). */
export class GuestCommandError extends XclusterError {
  constructor(
    readonly vm: string,
    readonly command: string,
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(
      `Command failed on ${vm} with exit code ${exitCode}: ${command}` +
        (stdout ? `\n--- stdout ---\n${stdout.trimEnd()}` : '') +
        (stderr ? `\n--- stderr ---\n${stderr.trimEnd()}` : ''),
    )
  }
}

/** A bounded wait ran out; says what it waited for. */
export class XcTimeoutError extends XclusterError {}

/** The control channel to a VM broke (VM died, connection lost). */
export class ChannelError extends XclusterError {}

/** A command was not sent because its channel was closed after another command's timeout; it may run on a new channel. */
export class ChannelRetiredError extends ChannelError {}

/** A host command run by the harness failed (ip, qemu, a net-setup script); argv, exit code and stderr are on it. */
export class HostCommandError extends XclusterError {
  readonly argv: string[]
  readonly exitCode?: number
  readonly stderr: string
  constructor(message: string, o: { argv?: string[]; exitCode?: number; stderr?: string; cause?: unknown } = {}) {
    super(message, { cause: o.cause })
    this.argv = o.argv ?? []
    this.exitCode = o.exitCode
    this.stderr = o.stderr ?? ''
  }
}

/** A QEMU monitor (QMP) call failed: the VM's monitor is gone, or QEMU refused the command. */
export class MonitorError extends XclusterError {
  constructor(
    readonly socket: string,
    readonly command: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A step of a stop or cleanup failed; the steps after it still ran. */
export class TeardownError extends XclusterError {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`teardown step "${step}" failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}

/** A boot that was not started because another VM of the same start failed first. */
export class NotStartedError extends XclusterError {}

/** An ssh host of the cluster cannot be used (unreachable, its key unknown, a program or a right missing); lists every problem of every host, nothing was started. */
export class HostCheckError extends ClusterConfigError {
  constructor(problems: string[]) {
    super(problems)
    this.message = `The ssh hosts cannot be used (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was started:\n` + problems.map((p) => `  - ${p}`).join('\n')
  }
}

/**
 * An ssh host was lost during a run (its sshd gone, the network to it down).
 * The cluster is stopped: the other hosts' VMs and networks are removed; what
 * the lost host recorded stays in the state directory and is removed by
 * `xc cleanup` (or the next start's sweep) once it answers again.
 */
export class HostLostError extends XclusterError {
  constructor(
    readonly host: string,
    readonly reason: string,
    message: string,
  ) {
    super(message)
  }
}

/** What a cluster made on an ssh host could not be removed because the host does not answer; it stays recorded. */
export class HostUnreachableError extends XclusterError {
  constructor(
    readonly hosts: string[],
    message: string,
  ) {
    super(message)
  }
}

/**
 * A kernel could not be built (`xc kernel build`): the options or the config
 * cannot give a kernel the harness boots (every problem listed), or make
 * failed (the tail of its log on `logTail`, the whole log at `log`).
 */
export class KernelBuildError extends XclusterError {
  readonly problems: string[]
  readonly log?: string
  readonly logTail: string
  constructor(problems: string[], o: { log?: string; logTail?: string; cause?: unknown } = {}) {
    super(
      `The kernel was not built (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        (o.logTail ? `\n--- ${o.log ?? 'build log'} (last lines) ---\n${o.logTail}` : ''),
      { cause: o.cause },
    )
    this.problems = problems
    this.log = o.log
    this.logTail = o.logTail ?? ''
  }
}
