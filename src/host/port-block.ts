// Host ports per cluster. A cluster whose user-mode nets are shared (on the
// host's loopback) holds one block of 1024 ports on 127.0.0.1, locked by a
// file in one directory for the whole machine (not per home: clusters of two
// homes, or two users, must not share a block, and with it a multicast
// group), so that clusters side by side never collide. Every other cluster
// has its ports and groups in a namespace of its own and uses one fixed
// block (NAMESPACED_BLOCK) without any lock:
//   base+v        telnet forward of VM v
//   base+256+v    ssh forward of VM v
//   base+512+k    multicast port of net k (user mode)
import { chmodSync, closeSync, constants, existsSync, fchmodSync, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { DiskWriteError, PortLockDirError, XclusterError } from '../errors.ts'
import { withDirLock } from './dir-lock.ts'
import { runDir } from './home.ts'
import type { Allocation } from '../plan/plan.ts'

export const BLOCK_SIZE = 1024
const FIRST_BLOCK = 8 // ports from 8192 (below: common services)
/** The block of every cluster whose ports and groups are in a namespace of its own (private user nets, bridge mode): taken without a lock. */
export const NAMESPACED_BLOCK = FIRST_BLOCK
const LAST_BLOCK = 63 // up to 65535

/** The host's ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range), Linux's default if unreadable. */
export function ephemeralPorts(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo <= hi) return [lo, hi]
  } catch {
    // not Linux, or no procfs
  }
  return [32768, 60999]
}

/**
 * The blocks a cluster may take: none overlaps the ephemeral range. A forward
 * port inside it can be taken by any outgoing connection (the harness's own
 * telnet clients among them) between the check and QEMU's bind: a 50-VM start
 * failed that way once ("Could not set up host forwarding rule").
 */
export function portBlocks(ephemeral: [number, number] = ephemeralPorts()): number[] {
  const [lo, hi] = ephemeral
  const out: number[] = []
  for (let b = FIRST_BLOCK; b <= LAST_BLOCK; b++) {
    const first = b * BLOCK_SIZE
    const last = first + BLOCK_SIZE - 1
    if (last < lo || first > hi) out.push(b)
  }
  return out
}

/** The machine's lock directory of port blocks (sticky and world-writable, like /tmp: each user removes only their own locks); XCLUSTER_PORT_LOCKS moves it (tests). */
export const PORT_LOCK_DIR = '/tmp/xcluster-ports'

/** Where the port locks are. */
export function portLockDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.XCLUSTER_PORT_LOCKS || PORT_LOCK_DIR
}

/**
 * What is wrong with the lock directory as found (fstat of it, opened
 * without following a link), for a process of `uid`: 'own' when root should
 * make it root's and sticky again, 'mode' when its owner (this user) should
 * make it sticky again, or a reason no lock in it can be trusted. Undefined
 * when it is as it must be. Pure.
 */
export function lockDirProblem(st: { uid: number; mode: number }, uid: number): 'own' | 'mode' | string | undefined {
  const mode = st.mode & 0o7777
  if (st.uid !== 0 && st.uid !== uid) return uid === 0 ? 'own' : `it belongs to uid ${st.uid}, who can remove or forge every lock in it`
  if (mode !== 0o1777) return st.uid === uid ? 'mode' : `its mode is ${mode.toString(8)}, not 1777 (sticky, so that no user removes another's locks)`
  return undefined
}

/**
 * The lock directory, made or checked: a real directory (not a link: it is
 * opened with O_NOFOLLOW), sticky and world-writable, root's or this user's.
 * Root takes over one that another user made first (their locks stay, and
 * are honoured or cleaned up like any other); a user cannot, and is told
 * what to do.
 */
function lockDir(): string {
  const dir = portLockDir()
  try {
    mkdirSync(dir, { mode: 0o1777 })
    chmodSync(dir, 0o1777) // the umask took the sticky and write bits
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new PortLockDirError(dir, `it cannot be made (${(e as NodeJS.ErrnoException).code})`)
  }
  let fd: number
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new PortLockDirError(dir, code === 'ELOOP' || code === 'ENOTDIR' ? 'it is not a directory (a link, or a file), which another user may have put there' : `it cannot be opened (${code})`)
  }
  try {
    const uid = process.getuid?.() ?? 0
    const why = lockDirProblem(fstatSync(fd), uid)
    if (why === 'own') fchownSync(fd, 0, 0)
    if (why === 'own' || why === 'mode') fchmodSync(fd, 0o1777)
    else if (why) throw new PortLockDirError(dir, why)
  } finally {
    closeSync(fd)
  }
  return dir
}

/**
 * The text of the lock file `path`: a regular file, not read through a link
 * (nor a FIFO, which would hang the read): in a directory every user can
 * write, another user may have put anything there. Throws otherwise.
 */
function readLock(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a file`)
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

/** Who holds a block: a cluster id and the home of its state directory. */
export interface BlockOwner {
  id: string
  home: string
}

/** The owner written in a lock file (`<id> <home>`). */
export function lockOwner(text: string): BlockOwner {
  const [id, ...rest] = text.trim().split(' ')
  return { id, home: rest.join(' ') }
}

/** The owner of each block locked now, by block. */
export function lockedBlocks(): Map<number, BlockOwner> {
  const out = new Map<number, BlockOwner>()
  const dir = portLockDir()
  if (!existsSync(dir)) return out
  for (const f of readdirSync(dir)) {
    if (!/^\d+$/.test(f)) continue
    try {
      out.set(Number(f), lockOwner(readLock(join(dir, f))))
    } catch {
      // released meanwhile
    }
  }
  return out
}

/** True when the cluster that holds a lock is gone: its state directory no longer exists (one we cannot look into counts as alive). */
export function ownerGone(owner: BlockOwner): boolean {
  if (!owner.id || !owner.home) return true
  try {
    statSync(join(runDir(owner.home), owner.id, 'state.json'))
    return false
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR'
  }
}

/** The allocation that block `block` gives cluster `clusterId`. */
export function allocationOf(clusterId: string, block: number): Allocation {
  const base = block * BLOCK_SIZE
  return {
    clusterId,
    telnetBase: base,
    sshBase: base + 256,
    mcastPortBase: base + 512,
    mcastGroupPrefix: `239.255.${block}`,
  }
}

/** Resolve when 127.0.0.1:`port` can be bound now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)))
  })
}

/** Ports of `vms` in block `block` that something else holds. */
export async function busyPorts(block: number, vms: number[]): Promise<number[]> {
  const a = allocationOf('', block)
  const ports = vms.flatMap((v) => [a.telnetBase + v, a.sshBase + v])
  const free = await Promise.all(ports.map(portFree))
  return ports.filter((_, i) => !free[i])
}

/**
 * The machine's lock of port-block allocation (flock on `.lock` in the lock
 * directory): a stale block's lock is checked and taken over, or a block
 * released, by one process at a time. Without it, two starts that both saw
 * a dead owner's lock could both remove it and one of them the other's new
 * one (a check, then a delete).
 */
function underBlockLock<T>(fn: () => Promise<T>): Promise<T> {
  return withDirLock(join(lockDir(), '.lock'), fn, 60_000, 'the port-block lock')
}

/**
 * Lock a block for cluster `clusterId` of `home` whose ports for `vms` are
 * free. A lock whose owner is gone (ownerGone) is taken over.
 */
export function allocatePortBlock(home: string, clusterId: string, vms: number[]): Promise<number> {
  return underBlockLock(() => allocate(home, clusterId, vms))
}

async function allocate(home: string, clusterId: string, vms: number[]): Promise<number> {
  const dir = lockDir()
  const blocks = portBlocks()
  if (!blocks.length) {
    const [lo, hi] = ephemeralPorts()
    throw new XclusterError(`No block of host ports outside the ephemeral range ${lo}-${hi} (net.ipv4.ip_local_port_range): narrow that range.`)
  }
  // Start at a place that depends on the process, so parallel workers rarely race.
  const start = (process.pid * 7) % blocks.length
  const order = [...blocks.slice(start), ...blocks.slice(0, start)]
  for (const block of order) {
    const lock = join(dir, String(block))
    if (existsSync(lock) || isLink(lock)) {
      let owner: BlockOwner | undefined
      try {
        owner = lockOwner(readLock(lock))
      } catch {
        // Not a lock file at all (a link, a FIFO, ...): never a cluster's; removed where we may (root, or its owner).
      }
      if (owner && (owner.id === clusterId || !ownerGone(owner))) continue
      try {
        rmSync(lock)
      } catch {
        continue // another user's stale lock: the sticky directory keeps it
      }
    }
    let fd: number
    try {
      fd = openSync(lock, 'wx', 0o600)
    } catch {
      continue // taken by a parallel start between our look and our open
    }
    try {
      writeSync(fd, `${clusterId} ${home}\n`)
    } catch (e) {
      // A lock without its owner would be taken for a dead one's: none at all.
      rmSync(lock, { force: true })
      throw new DiskWriteError(lock, e)
    } finally {
      closeSync(fd)
    }
    if ((await busyPorts(block, vms)).length === 0) return block
    rmSync(lock, { force: true })
  }
  const [first, last] = [blocks[0], blocks.at(-1)!]
  throw new XclusterError(
    `No free block of host ports on 127.0.0.1 (${blocks.length} blocks of ${BLOCK_SIZE}, ports ${first * BLOCK_SIZE}-${last * BLOCK_SIZE + BLOCK_SIZE - 1}): stop other clusters or run \`xc cleanup\`.`,
  )
}

/** Release a block, if `clusterId` holds it; true when it did. */
export async function releasePortBlock(block: number, clusterId: string): Promise<boolean> {
  const lock = join(portLockDir(), String(block))
  const mine = (): boolean => {
    try {
      return lockOwner(readLock(lock)).id === clusterId
    } catch {
      return false // already gone
    }
  }
  if (!mine()) return false
  return underBlockLock(async () => {
    if (!mine()) return false
    rmSync(lock, { force: true })
    return true
  })
}
