// Named errors of the harness. "The test failed" (GuestCommandError, with
// UnexpectedSuccessError, and WaitTimeoutError) and "the harness broke"
// (everything else) are different classes. Code tells them apart by class
// and fields, never by matching a message.

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

/** A command expected to fail (`vm.fail()`) exited 0: a test failure, with what it printed. */
export class UnexpectedSuccessError extends GuestCommandError {
  constructor(vm: string, command: string, stdout: string, stderr: string) {
    super(vm, command, 0, stdout, stderr)
    this.message =
      `Command succeeded on ${vm} where it was to fail: ${command}` +
      (stdout ? `\n--- stdout ---\n${stdout.trimEnd()}` : '') +
      (stderr ? `\n--- stderr ---\n${stderr.trimEnd()}` : '')
  }
}

/** The machine's directory of port-block locks cannot be trusted (another user's, a link, the wrong mode); nothing was started. */
export class PortLockDirError extends XclusterError {
  constructor(
    readonly dir: string,
    readonly reason: string,
  ) {
    super(`the port lock directory ${dir} cannot be used: ${reason}. Remove it as root (rm -r ${dir}; the next start makes it anew), or set XCLUSTER_PORT_LOCKS to a directory of your own`)
  }
}

/** A bounded wait ran out; says what it waited for. */
export class XcTimeoutError extends XclusterError {}

/** The budget a wait ran on: its name (none for a wait given a timeout), nominal bound and the machine's scale. */
export interface WaitBudget {
  name?: string
  nominalMs: number
  scale: number
}

/**
 * A wait verb (waitUntilSucceeds, waitForPort, cluster.waitUntil, ...) ran
 * out of time: a test failure. It names the VM (none for a wait of the
 * cluster or the host), what it waited for, its bound and the budget that
 * gave it, how long it waited, how many attempts, and what the last attempt
 * printed or threw.
 */
export class WaitTimeoutError extends XcTimeoutError {
  constructor(
    readonly vm: string | undefined,
    readonly what: string,
    readonly timeoutMs: number,
    readonly elapsedMs: number,
    readonly attempts: number,
    readonly lastOutput: string,
    readonly budget: WaitBudget,
    options?: { cause?: unknown },
  ) {
    const b = budget.name ? `budget ${budget.name}: ` : ''
    super(
      `${vm ? `${vm}: ` : ''}waited ${(elapsedMs / 1000).toFixed(1)} s for ${what}, in vain ` +
        `(bound ${(timeoutMs / 1000).toFixed(1)} s = ${b}${(budget.nominalMs / 1000).toFixed(1)} s nominal x ${budget.scale} for this machine; ${attempts} attempt${attempts === 1 ? '' : 's'})` +
        `\n--- the last attempt ---\n${lastOutput.trimEnd() || '(no output)'}`,
      options,
    )
  }
}

/** The control channel to a VM broke (VM died, connection lost). */
export class ChannelError extends XclusterError {}

/**
 * What answered where the harness expected VM `vm` is not that VM (another
 * process bound its port after its QEMU ended, or a challenge for another VM):
 * nothing was sent to it, no answer and no command.
 */
export class ImpostorError extends ChannelError {
  constructor(
    readonly vm: string,
    readonly reason: string,
  ) {
    super(`${vm}: refused to log in: ${reason}`)
  }
}

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
 * `XCLUSTER_HOOK` (xcluster's hook of start functions) cannot give the
 * function asked for: the module is missing or does not load, or it exports
 * no function of that name (`exports` lists the functions it does export).
 */
export class HookError extends XclusterError {
  constructor(
    readonly hook: string,
    readonly fn: string,
    readonly exports: string[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
