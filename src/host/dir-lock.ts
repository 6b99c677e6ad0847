// A lock between processes of one machine: flock(2) on a lock file. Node has
// no flock, so util-linux `flock` takes it on a descriptor this process opened
// and hands it as fd 3: the lock belongs to that open file description, so it
// stays held after `flock` exits, and goes when this process closes the
// descriptor or dies, however it dies (the kernel closes it). There is no
// stale lock to detect and delete: a dead holder's lock is free at once, and
// two holders at once cannot be (the kernel's flock). The file stays: deleting
// a lock file would let a waiter lock a file that the next one no longer sees.
// Before this, a lock was a directory (mkdir) taken over when its owner's pid
// was gone: six processes racing over a dead owner's lock had up to three
// inside at once (a check, then a delete of a lock another had just taken).
import { spawn } from 'node:child_process'
import { closeSync, constants, existsSync, fchmodSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import { LockError, MissingDependencyError } from '../errors.ts'
import { which } from './which.ts'

/** Exit code asked of flock(1) for "the wait ran out" (-E), so that it differs from its other errors. */
const TIMED_OUT = 75

/**
 * Open (or make, mode 0644) the lock file `path`; read-only when it is
 * another user's. An old lock directory works too (flock locks
 * directories). Never through a link, and never anything but a file or a
 * directory (a FIFO would hang the open): a lock directory shared by users
 * may hold what another user put there.
 */
function openLockFile(path: string): number {
  const { O_CREAT, O_EXCL, O_RDWR, O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants
  try {
    const fd = openSync(path, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW, 0o644)
    fchmodSync(fd, 0o644) // not narrowed by the umask: other users of a shared lock directory open it to lock it
    return fd
  } catch (e) {
    // EACCES: there, and another user's in a sticky directory (fs.protected_regular refuses O_CREAT on it).
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' && (e as NodeJS.ErrnoException).code !== 'EACCES') throw e
  }
  let fd: number
  try {
    fd = openSync(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ELOOP') throw new Error(`${path} is a symbolic link, not a lock file: remove it`)
    if (code !== 'EACCES' && code !== 'EISDIR' && code !== 'EPERM') throw e
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
  }
  const st = fstatSync(fd)
  if (!st.isFile() && !st.isDirectory()) {
    closeSync(fd)
    throw new Error(`${path} is neither a file nor a directory: remove it`)
  }
  return fd
}

/** flock(1): on PATH, else where util-linux puts it (a PATH without /usr/bin still locks). */
function flockProgram(): string {
  return which('flock') ?? ['/usr/bin/flock', '/bin/flock'].find((p) => existsSync(p)) ?? 'flock'
}

/** Take flock(LOCK_EX) on `fd` through flock(1), waiting up to `timeoutMs`; false when the wait ran out. */
function flockFd(fd: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(flockProgram(), ['--exclusive', '--conflict-exit-code', String(TIMED_OUT), '--wait', String(Math.max(timeoutMs, 1) / 1000), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
    })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code === 0) resolve(true)
      else if (code === TIMED_OUT) resolve(false)
      else reject(new Error(`flock exited with ${signal ?? code}: ${stderr.trim()}`))
    })
  })
}

/** The pid the holder wrote into the lock file, if any. */
function holderOf(path: string): number | undefined {
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    let text: string
    try {
      text = fstatSync(fd).isFile() ? readFileSync(fd, 'utf8') : ''
    } finally {
      closeSync(fd)
    }
    const pid = Number(text.trim().split(/\s+/)[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Run `fn` holding the lock `path` (a file, made when missing; never removed);
 * waits up to `timeoutMs` while another process holds it. Every failure to
 * take it is a LockError (a missing flock(1) a MissingDependencyError), as a
 * rejection of the returned promise.
 */
export async function withDirLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 30 * 60_000, what = 'a lock'): Promise<T> {
  let fd: number
  try {
    fd = openLockFile(path)
  } catch (e) {
    throw new LockError(path, false, undefined, `could not open ${what} (${path}): ${(e as Error).message}`, { cause: e })
  }
  try {
    if (!(await flockFd(fd, timeoutMs))) {
      const holder = holderOf(path)
      throw new LockError(path, true, holder, `${what} (${path}) is held by ${holder ? `pid ${holder}` : 'another process'} for more than ${Math.round(timeoutMs / 1000)} s`)
    }
  } catch (e) {
    closeSync(fd)
    if (e instanceof LockError) throw e
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingDependencyError(`flock (util-linux) is not installed: ${what} needs it. As root: apt-get install util-linux`)
    throw new LockError(path, false, undefined, `could not take ${what} (${path}): ${(e as Error).message}`, { cause: e })
  }
  try {
    // Who holds it, for a waiter's error message only (best effort: read-only, or a full disk, leaves it out).
    try {
      if (fstatSync(fd).uid === (process.getuid?.() ?? 0)) {
        ftruncateSync(fd, 0)
        writeSync(fd, `${process.pid}\n`, 0)
      }
    } catch {
      // not ours to write, or no space: the lock holds all the same
    }
    return await fn()
  } finally {
    closeSync(fd)
  }
}
