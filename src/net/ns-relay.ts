// The relay into a cluster's network namespace (relay.mjs): started through
// the cluster's spawner, ready once its Unix socket (0600, in the cluster's
// 0700 state directory) exists, and the one way this process reaches a VM's
// ports inside the namespace. Bridge mode and private user-mode nets use it.
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { ChannelError, HostCommandError, XcTimeoutError } from '../errors.ts'
import { sameProcess, waitGone } from '../host/proc.ts'
import type { Spawner } from '../host/spawner.ts'
import type { ProcessRecord, StateDir } from '../host/state-dir.ts'
import { waitFor } from '../host/wait.ts'
import { CONNECT_TIMEOUT_MS } from './backend.ts'

/** The relay program: plain JavaScript, so that bare node runs it. */
export const RELAY = fileURLToPath(new URL('./relay.mjs', import.meta.url))

/** Start a relay by `argv` through `spawner`, logging to `log`; resolves once its `socket` exists. */
export async function startRelayProcess(spawner: Spawner, argv: string[], socket: string, log: string): Promise<ProcessRecord> {
  const { record } = await spawner.spawn(argv, log)
  const up = await waitFor(() => existsSync(socket), { timeoutMs: 10_000, intervalMs: 20, abort: () => !sameProcess(record.pid, record.startTime) })
  if (!up) throw new HostCommandError(`the namespace relay did not start (see ${log})`, { argv })
  return record
}

/** The cluster's own relay by `argv`, recorded in its state once it runs. */
export async function startClusterRelay(state: StateDir, spawner: Spawner, argv: string[], socket: string): Promise<void> {
  const record = await startRelayProcess(spawner, argv, socket, state.path('relay.log'))
  state.update((r) => (r.relay = { ...record, socket }))
}

/** Stop the cluster's relay gracefully (cleanup ends it by its pid if this does not). */
export async function stopClusterRelay(state: StateDir): Promise<void> {
  const relay = state.state.relay
  if (relay && sameProcess(relay.pid, relay.startTime)) {
    process.kill(relay.pid, 'SIGTERM')
    await waitGone(relay.pid, 2000)
  }
}

/** Connect through the relay at `socket` to `host`:`port` inside the namespace. */
export function relayConnect(socket: string, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const sock = connect(socket)
    let head = Buffer.alloc(0)
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new XcTimeoutError(`relay connect to ${host}:${port} timed out`))
    }, CONNECT_TIMEOUT_MS + 1000)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const nl = head.indexOf(0x0a)
      if (nl < 0) return
      sock.off('data', onData)
      clearTimeout(timer)
      const line = head.subarray(0, nl).toString()
      if (line !== 'OK') {
        sock.destroy()
        return reject(new ChannelError(`relay to ${host}:${port}: ${line}`))
      }
      sock.pause()
      if (head.length > nl + 1) sock.unshift(head.subarray(nl + 1))
      resolve(sock)
    }
    sock.on('data', onData)
    sock.once('error', (e) => {
      clearTimeout(timer)
      reject(new ChannelError(`relay ${socket} to ${host}:${port}: ${e.message}`, { cause: e }))
    })
    sock.once('connect', () => sock.write(`CONNECT ${host} ${port}\n`))
  })
}
