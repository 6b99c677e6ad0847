// A tiny static file server for a directory (Vitest's HTML report), bound to
// 127.0.0.1 on an ephemeral port: only loopback, never another address. GET
// and HEAD only; a path that leaves the directory is refused. Files are sent
// as they are, with no Content-Encoding: the report's html.meta.json.gz is
// gunzipped by the page itself, and a browser that was told "gzip" would
// unpack it first and hand the page plain JSON.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, resolve, sep } from 'node:path'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.gz': 'application/gzip',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
}

export interface StaticServer {
  /** http://127.0.0.1:<port>/ */
  url: string
  /** Every path that was asked for, with its status (for the failure message of a test). */
  requests: string[]
  close(): Promise<void>
}

/** Serve `dir` on 127.0.0.1 at an ephemeral port. */
export async function serveDirectory(dir: string): Promise<StaticServer> {
  const root = resolve(dir)
  const requests: string[] = []
  const server = createServer((req, res) => {
    const done = (status: number, body = ''): void => {
      requests.push(`${status} ${req.method} ${req.url}`)
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return done(405, 'GET or HEAD only\n')
    let pathname: string
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)
    } catch {
      return done(400, 'bad path\n')
    }
    const file = resolve(root, '.' + (pathname.endsWith('/') ? `${pathname}index.html` : pathname))
    if (file !== root && !file.startsWith(root + sep)) return done(403, 'outside the served directory\n')
    stat(file).then(
      (st) => {
        if (!st.isFile()) return done(404, 'not a file\n')
        requests.push(`200 ${req.method} ${req.url}`)
        res.writeHead(200, {
          'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
          'content-length': st.size,
          'cache-control': 'no-store',
        })
        if (req.method === 'HEAD') return void res.end()
        createReadStream(file).on('error', () => res.destroy()).pipe(res)
      },
      () => done(404, 'not found\n'),
    )
  })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', fail)
      ok()
    })
  })
  const { address, port } = server.address() as AddressInfo
  if (address !== '127.0.0.1') {
    server.close()
    throw new Error(`the report server is bound to ${address}, not 127.0.0.1`)
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections()
        server.close(() => ok())
      }),
  }
}
