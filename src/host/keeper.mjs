#!/usr/bin/env node
// The keeper of a detached cluster (xc start). It is the parent of the
// cluster's QEMU processes and relay, so that they are reaped when they end
// even after the xc command that started them has exited (on machines whose
// PID 1 does not reap orphans they would stay as zombies). Requests come as
// JSON lines on a Unix socket in the state directory:
//   {"op":"spawn","argv":[...],"log":"/path","secret":"..."}  ->  {"pid":N} or {"error":"..."}
// where secret is the cluster's (its 0600 file in the 0700 state directory).
// SIGTERM ends it. Plain JavaScript: it runs with bare node.
import { createServer } from 'node:net'
import { spawn } from 'node:child_process'
import { chmodSync, closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs'

const path = process.argv[2]
const secretFile = process.argv[3]
if (!path || !secretFile) {
  console.error('usage: keeper.mjs <unix-socket-path> <secret-file>')
  process.exit(2)
}
// Requests must carry the cluster's secret: a file only its owner can read.
const secret = readFileSync(secretFile, 'utf8').trim()
rmSync(path, { force: true })
// The QEMUs started here make their monitor sockets 0600.
process.umask(0o177)

// Its children die with it (PR_SET_PDEATHSIG through util-linux setpriv), so a
// killed keeper leaves no QEMU behind.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))

function spawnChild(req) {
  const fd = openSync(req.log, 'a')
  try {
    const argv = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', ...req.argv] : req.argv
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd] })
    child.on('error', () => {})
    return child.pid
  } finally {
    closeSync(fd)
  }
}

const server = createServer((sock) => {
  let buf = ''
  sock.on('data', (d) => {
    buf += d.toString('utf8')
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      let reply
      try {
        const req = JSON.parse(line)
        if (req.secret !== secret) throw new Error('not the owner of this cluster')
        if (req.op !== 'spawn' || !Array.isArray(req.argv) || typeof req.log !== 'string') throw new Error('bad request')
        const pid = spawnChild(req)
        reply = pid ? { pid } : { error: `could not start ${req.argv[0]}` }
      } catch (e) {
        reply = { error: e.message }
      }
      sock.write(JSON.stringify(reply) + '\n')
    }
  })
  sock.on('error', () => {})
})
server.listen(path, () => {
  chmodSync(path, 0o600)
  process.stdout.write('READY\n')
})
const stop = () => {
  server.close()
  rmSync(path, { force: true })
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
