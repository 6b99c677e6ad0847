#!/usr/bin/env node
// The client of a net-setup script's spawn service (see spawn-service.ts):
//   node spawn-client.mjs <socket> <name> <program> [args...]
// asks the harness to start <program> as the cluster's daemon <name>, in the
// cluster's namespace, recorded in its state directory before it starts and
// ended by stop and cleanup. Prints the pid; exit 1 with the reason on
// stderr when the harness refused or could not. A script calls it as
// "$XCLUSTER_SPAWN" <name> <program> [args...]. Plain JavaScript: bare node.
import { connect } from 'node:net'

const [socket, name, ...argv] = process.argv.slice(2)
if (!socket || !name || !argv.length) {
  console.error('usage: $XCLUSTER_SPAWN <name> <program> [args...]')
  process.exit(2)
}
const sock = connect(socket)
let buf = ''
sock.on('connect', () => sock.write(JSON.stringify({ name, argv }) + '\n'))
sock.on('data', (d) => {
  buf += d.toString('utf8')
  const nl = buf.indexOf('\n')
  if (nl < 0) return
  sock.end()
  let reply
  try {
    reply = JSON.parse(buf.slice(0, nl))
  } catch {
    reply = { error: `a reply that is not JSON: ${buf.slice(0, 200)}` }
  }
  if (reply.pid) {
    process.stdout.write(`${reply.pid}\n`)
    process.exit(0)
  }
  console.error(`xc-spawn ${name}: ${reply.error}`)
  process.exit(1)
})
sock.on('error', (e) => {
  console.error(`xc-spawn ${name}: the harness's spawn service at ${socket} is not there (${e.message}); it serves only while the harness runs a net-setup script`)
  process.exit(1)
})
