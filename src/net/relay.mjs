#!/usr/bin/env node
// Relay from a Unix socket into a cluster's network namespace. Started inside
// the namespace (`ip netns exec <ns> node relay.mjs <socket>`); a client
// writes one line "CONNECT <ipv4> <port>\n", gets "OK\n" once the TCP
// connection inside the namespace stands, and then the bytes flow both ways.
// Plain JavaScript so that it runs with bare node, without a TypeScript loader.
import { createServer, connect } from 'node:net'
import { chmodSync, rmSync } from 'node:fs'

const path = process.argv[2]
if (!path) {
  console.error('usage: relay.mjs <unix-socket-path>')
  process.exit(2)
}
rmSync(path, { force: true })
const LINE = /^CONNECT (192\.168\.\d{1,3}\.\d{1,3}|127\.0\.0\.1) (\d{1,5})\n$/
// 192.168.x.y: a VM in bridge mode; 127.0.0.1: a forward of QEMU in private user-mode nets (the namespace's own loopback).

const server = createServer((client) => {
  let head = ''
  const onHead = (chunk) => {
    head += chunk.toString('latin1')
    const nl = head.indexOf('\n')
    if (nl < 0) {
      if (head.length > 64) client.destroy()
      return
    }
    client.off('data', onHead)
    client.pause()
    const m = LINE.exec(head.slice(0, nl + 1))
    const rest = Buffer.from(head.slice(nl + 1), 'latin1')
    if (!m) {
      client.end('ERR bad request\n')
      return
    }
    const upstream = connect({ host: m[1], port: Number(m[2]) })
    const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), 3000)
    upstream.once('connect', () => {
      clearTimeout(timer)
      client.write('OK\n')
      if (rest.length) upstream.write(rest)
      client.pipe(upstream)
      upstream.pipe(client)
      client.resume()
    })
    upstream.on('error', (e) => {
      clearTimeout(timer)
      if (client.writable) client.end(`ERR ${e.code ?? e.message}\n`)
      client.destroy()
    })
    client.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  }
  client.on('data', onHead)
  client.on('error', () => {})
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
