// Who holds the other end of a TCP connection on loopback: read from /proc,
// so that a client can tell a VM's QEMU from any process that bound its
// forward port after the QEMU ended.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { waitFor } from './wait.ts'

/** /proc/net/tcp's "0100007F:1F90" for 127.0.0.1:`port`. */
function loopbackHex(port: number): string {
  return `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
}

/**
 * The inode of the socket whose local end is 127.0.0.1:`local` and remote end
 * 127.0.0.1:`remote`, in this process's network namespace; 0 while it waits
 * in its listener's accept queue, undefined when there is none.
 */
export function loopbackSocketInode(local: number, remote: number, table = readFileSync('/proc/net/tcp', 'utf8')): number | undefined {
  const l = loopbackHex(local)
  const r = loopbackHex(remote)
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f[1] === l && f[2] === r) return Number(f[9])
  }
  return undefined
}

/** True when process `pid` holds the socket with `inode` (one of its open files). */
export function holdsSocket(pid: number, inode: number): boolean {
  const want = `socket:[${inode}]`
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false
  }
  return fds.some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === want
    } catch {
      return false
    }
  })
}

/**
 * True when the server end of this process's loopback connection from
 * `clientPort` to `serverPort` is held by process `pid`: the process that
 * accepted it, not merely one that was alive a moment before. Waits (up to
 * `timeoutMs`) while the connection is still in the accept queue.
 */
export async function loopbackPeerHeldBy(pid: number, clientPort: number, serverPort: number, timeoutMs = 2000): Promise<boolean> {
  let held = false
  await waitFor(() => {
    const inode = loopbackSocketInode(serverPort, clientPort)
    if (inode === undefined) return true // no such connection (closed): not held
    if (inode === 0) return false // not accepted yet
    held = holdsSocket(pid, inode)
    return true
  }, { timeoutMs, intervalMs: 10 })
  return held
}
