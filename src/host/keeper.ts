// Start and use the keeper of a detached cluster (see keeper.mjs).
import { connect } from 'node:net'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HostCommandError, XcTimeoutError } from '../errors.ts'
import { procStartTime } from './proc.ts'
import { startHelper } from './helper-process.ts'
import { readSecret, SECRET_FILE, type ProcessRecord, type StateDir } from './state-dir.ts'

const KEEPER = fileURLToPath(new URL('./keeper.mjs', import.meta.url))

/** Start the keeper of `state`'s cluster, detached, and record it before it runs anything. */
export async function startKeeper(state: StateDir): Promise<string> {
  const socket = state.path('keeper.sock')
  await startHelper([process.execPath, KEEPER, socket, state.path(SECRET_FILE)], {
    log: state.path('keeper.log'),
    detached: true,
    what: 'the cluster keeper',
    record: (p) => state.update((r) => (r.keeper = { ...p, socket })),
  })
  return socket
}

/** Have the keeper at `socket` start `argv` with output to `log`; its pid and start time. */
export function keeperSpawn(socket: string, argv: string[], log: string): Promise<ProcessRecord> {
  return new Promise((resolve, reject) => {
    const sock = connect(socket)
    let buf = ''
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new XcTimeoutError(`the cluster keeper at ${socket} did not answer within 10 s`))
    }, 10_000)
    // The keeper takes requests only with the cluster's secret, which only its owner can read.
    const secret = readSecret(dirname(socket))
    sock.on('connect', () => sock.write(JSON.stringify({ op: 'spawn', argv, log, secret }) + '\n'))
    sock.on('data', (d) => {
      buf += d.toString()
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      sock.end()
      let reply: { pid?: number; error?: string }
      try {
        reply = JSON.parse(buf.slice(0, nl)) as typeof reply
      } catch {
        reply = { error: `a reply that is not JSON: ${buf.slice(0, 200)}` }
      }
      if (!reply.pid) return reject(new HostCommandError(`the cluster keeper could not start ${argv[0]}: ${reply.error}`, { argv }))
      resolve({ pid: reply.pid, startTime: procStartTime(reply.pid) })
    })
    sock.on('error', (e) => {
      clearTimeout(timer)
      reject(new HostCommandError(`the cluster keeper at ${socket} is not there (${e.message}); run \`xc cleanup\``))
    })
  })
}
