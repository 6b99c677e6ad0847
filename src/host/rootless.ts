// Rootless bridge mode: a cluster's bridges, taps and QEMU inside a user and
// network namespace of its own, made by an unprivileged process. What the
// host must allow for it, asked of the host itself (an unshare that runs,
// /dev/net/tun opened), and the argv that enters such a namespace.
import { spawnSync } from 'node:child_process'
import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { userInfo } from 'node:os'
import { hasNetAdmin, which } from './which.ts'

/** The tun device QEMU and `ip tuntap` open. */
export const TUN = '/dev/net/tun'

/** Whether bridge mode runs rootless by default: when this process cannot make namespaces itself (no CAP_NET_ADMIN), or XCLUSTER_ROOTLESS=1. */
export function rootlessByDefault(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.XCLUSTER_ROOTLESS === '1') return true
  if (env.XCLUSTER_ROOTLESS === '0') return false
  return !hasNetAdmin()
}

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return undefined
  }
}

/** Why user namespaces cannot be made here (a sysctl, an AppArmor restriction, ...), or undefined when `unshare --user --net` runs. */
export function userNamespaceProblem(): string | undefined {
  const unshare = which('unshare')
  if (!unshare) return 'unshare (util-linux) is not on PATH: install util-linux'
  if (!which('nsenter')) return 'nsenter (util-linux) is not on PATH: install util-linux'
  const r = spawnSync(unshare, ['--user', '--map-root-user', '--net', 'true'], { encoding: 'utf8', timeout: 5000 })
  if (r.status === 0) return undefined
  const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim()
  const hints: string[] = []
  if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0') hints.push('sysctl -w kernel.unprivileged_userns_clone=1')
  if (readSysctl('/proc/sys/user/max_user_namespaces') === '0') hints.push('sysctl -w user.max_user_namespaces=15000')
  if (readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') hints.push('sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile for unshare)')
  const fix = hints.length ? `as root: ${hints.join('; ')}, or \`xc nsadd --user ${userName()}\`` : `allow unprivileged user namespaces, or run as root`
  return `this host does not let this user make user namespaces (\`unshare --user --net\`: ${why}). To allow it, ${fix}`
}

function userName(): string {
  try {
    return userInfo().username
  } catch {
    return String(process.getuid?.() ?? 'USER')
  }
}

/** The problem of a /dev/net/tun this user cannot open (mode as 4 octal digits, the errno code), with what to do. */
export function tunProblemText(mode: string, code: string, user = userName()): string {
  return (
    `this user cannot open ${TUN} (mode ${mode}), which QEMU and \`ip tuntap\` need for the taps (${code}). ` +
    `As root: chmod 0666 ${TUN} (Debian's default, set by udev; \`npm run setup\` as root does it), ` +
    `a udev rule KERNEL=="tun", MODE="0666", or \`xc nsadd --user ${user}\` for this user only; or run as root`
  )
}

/** Why /dev/net/tun cannot be opened for read and write by this process, or undefined. */
function tunProblem(): string | undefined {
  try {
    accessSync(TUN, constants.R_OK | constants.W_OK)
    return undefined
  } catch (e) {
    let mode: number
    try {
      mode = statSync(TUN).mode & 0o777
    } catch {
      return `${TUN} does not exist: as root, modprobe tun`
    }
    return tunProblemText(mode.toString(8).padStart(4, '0'), String((e as NodeJS.ErrnoException).code))
  }
}

/** Every reason rootless bridge mode cannot run here, each with what to do; empty when it can. */
export function rootlessProblems(): string[] {
  return [userNamespaceProblem(), tunProblem()].filter((p): p is string => p !== undefined)
}

/** The argv that runs `argv` in the user and network namespaces of process `pid` (as this user, with the namespace's rights). */
export function nsenterArgv(pid: number, argv: string[], net = true): string[] {
  return ['nsenter', '-t', String(pid), '--user', ...(net ? ['--net'] : []), '--preserve-credentials', '--', ...argv]
}

/** Whether this process may make a network namespace by itself (CAP_SYS_ADMIN, as root): then no user namespace is needed around it. */
export function canUnshareNet(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m ? (BigInt('0x' + m[1]) & (1n << 21n)) !== 0n : process.getuid?.() === 0
  } catch {
    return process.getuid?.() === 0
  }
}

/**
 * The argv that runs `argv` as the first process of a new network namespace
 * of its own: in a new user namespace too (this user mapped to root in it)
 * when `userNs`, else a bare network namespace (which needs CAP_SYS_ADMIN).
 * Either way no other user can enter it: setns needs rights over its owner.
 */
export function privateNetArgv(argv: string[], userNs: boolean): string[] {
  return userNs ? unshareArgv(argv) : ['unshare', '--net', '--', ...argv]
}

/** The argv that runs `argv` in the network namespace of process `pid` (made by privateNetArgv with the same `userNs`). */
export function enterNetArgv(pid: number, argv: string[], userNs: boolean): string[] {
  return userNs ? nsenterArgv(pid, argv) : ['nsenter', '-t', String(pid), '--net', '--', ...argv]
}

/** The argv that runs `argv` as the first process of a new user and network namespace (this user mapped to root in it). */
export function unshareArgv(argv: string[]): string[] {
  return ['unshare', '--user', '--map-root-user', '--net', '--', ...argv]
}

/** What stops bridge mode as the harness picks it here (rootless or root, see rootlessByDefault); empty when it can run. */
export function bridgeModeProblems(): string[] {
  if (rootlessByDefault()) return rootlessProblems()
  return hasNetAdmin() ? [] : ['needs root or CAP_NET_ADMIN (XCLUSTER_ROOTLESS=0)']
}
