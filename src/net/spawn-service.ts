// A net-setup script starts its cluster's daemons (an Open vSwitch, say)
// through the harness, which records them before they start and ends them at
// stop: while the script runs, the harness serves requests on a Unix socket
// in the state directory (0600 in the 0700 directory), and the script's
// environment names a small program that makes one (`$XCLUSTER_SPAWN name
// program args...`, see spawn-client.mjs).
import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import { shellQuote } from '../pure/quote.ts'

const CLIENT = fileURLToPath(new URL('./spawn-client.mjs', import.meta.url))

/** Starts daemon `name` with `argv`; its pid. */
export type SpawnDaemon = (name: string, argv: string[]) => Promise<number>

/**
 * The program a script calls (`<dir>/xc-spawn`): a two-line sh script that
 * runs the client with this node and the socket, so that neither node on
 * PATH nor the socket's path is the script's business. Written once.
 */
export function spawnProgram(dir: string, socket: string): string {
  const path = `${dir}/xc-spawn`
  if (!existsSync(path)) {
    writeFileSync(path, `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(CLIENT)} ${shellQuote(socket)} "$@"\n`, { mode: 0o700 })
  }
  return path
}

/** Serve spawn requests at `socket` until close(); each request starts one daemon by `spawn`. */
export async function serveSpawns(socket: string, spawn: SpawnDaemon): Promise<{ close: () => Promise<void> }> {
  rmSync(socket, { force: true })
  const server: Server = createServer((sock) => {
    let buf = ''
    sock.on('data', (d) => {
      buf += d.toString('utf8')
      const nl = buf.indexOf('\n')
      if (nl < 0) {
        if (buf.length > 65536) sock.destroy()
        return
      }
      const line = buf.slice(0, nl)
      buf = ''
      void (async () => {
        let reply: { pid?: number; error?: string }
        try {
          const req = JSON.parse(line) as { name?: unknown; argv?: unknown }
          if (typeof req.name !== 'string' || !Array.isArray(req.argv) || !req.argv.every((a) => typeof a === 'string')) throw new Error('bad request: expected {"name": string, "argv": [string, ...]}')
          reply = { pid: await spawn(req.name, req.argv as string[]) }
        } catch (e) {
          reply = { error: (e as Error).message }
        }
        sock.end(JSON.stringify(reply) + '\n')
      })()
    })
    sock.on('error', () => {})
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socket, () => resolve())
  })
  chmodSync(socket, 0o600)
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        rmSync(socket, { force: true })
      }),
  }
}
