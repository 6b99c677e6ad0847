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

/**
 * Packages whose contents would reach outside their layer (a `..` path, a
 * link that climbs above the root, a maintainer script naming such a path):
 * refused before anything of them was written, each problem naming the
 * package and the path.
 */
export class UnsafePackageError extends ClusterConfigError {
  constructor(problems: string[]) {
    super(problems)
    this.message = `Packages refused as unsafe (${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing of them was written):\n` + problems.map((p) => `  - ${p}`).join('\n')
  }
}

/** A host program or file the harness needs is missing; says how to get it. */
export class MissingDependencyError extends XclusterError {}

/** Options that need rights (root or CAP_NET_ADMIN) this process lacks; lists every problem too. */
export class PermissionError extends ClusterConfigError {}

/** An rc script of a VM that failed at boot: it exited non-zero, or it was not executable (and so not run). */
export interface RcFailure {
  /** Its path in the VM, e.g. /etc/init.d/40bird.rc. */
  script: string
  /** Its exit code; undefined when it was not executable. */
  exitCode?: number
  notExecutable: boolean
  /** Its last lines of output and of error (at most 10 each; the whole is in /var/log/<script>.log and .err). */
  stdout: string[]
  stderr: string[]
}

/**
 * A VM did not come up (in time, or at all); carries the tail of its console
 * log, and the rc scripts that failed when that is why (`rcFailures: 'fail'`).
 */
export class VmBootError extends XclusterError {
  readonly rcFailures: RcFailure[]
  constructor(
    readonly vm: string,
    readonly reason: string,
    readonly consoleTail: string,
    options?: { cause?: unknown; rcFailures?: RcFailure[] },
  ) {
    super(`${vm} did not boot: ${reason}\n--- console of ${vm} (last lines) ---\n${consoleTail}`, options)
    this.rcFailures = options?.rcFailures ?? []
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

/** A step of a snapshot failed: saving a VM, loading one, re-keying a restored one, or restore() of a cluster that has none. */
export class SnapshotError extends XclusterError {
  constructor(
    readonly step: 'save' | 'load' | 'rekey' | 'restore',
    /** The VM, where the step was about one. */
    readonly vm: string | undefined,
    message: string,
  ) {
    super(message)
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

/**
 * A file of the harness could not be written: the disk is full (`code`
 * ENOSPC or EDQUOT) or it refused the write. Nothing was left half-written:
 * the file keeps its old content, or does not exist.
 */
export class DiskWriteError extends XclusterError {
  readonly path: string
  readonly code?: string
  /** `code` when the cause does not carry one (a step that failed on a disk found full: ENOSPC). */
  constructor(path: string, cause: unknown, code = (cause as NodeJS.ErrnoException | undefined)?.code) {
    const full = code === 'ENOSPC' || code === 'EDQUOT'
    const why = full ? `the disk is full (${code})` : cause instanceof Error ? cause.message : String(cause)
    super(`could not write ${path}: ${why}; free space there${full ? '' : ' or fix the rights'}, then \`xc cleanup\` removes what failed runs left`, { cause })
    this.path = path
    this.code = code
  }
}

/** A lock between processes (package cache, snapshots, cluster names, port blocks) could not be taken: held by another process for longer than the bound (`timedOut`), or its file could not be opened or locked. */
export class LockError extends XclusterError {
  constructor(
    readonly path: string,
    readonly timedOut: boolean,
    /** The process holding it when the wait ran out, as it wrote itself into the file. */
    readonly holder: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A cluster that outlives its process (`xc start`, a kept fixture) is running under this name in this home already. */
export class ClusterNameTakenError extends XclusterError {
  constructor(
    readonly clusterName: string,
    /** The id of the cluster that has the name. */
    readonly holder: string,
  ) {
    super(`cluster ${clusterName} is already running (id ${holder}); stop it with \`xc stop --name=${clusterName}\` or pick another --name`)
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
