// A minimal QMP (QEMU Machine Protocol) client over the VM's Unix socket.
import { connect, type Socket } from 'node:net'
import { XcTimeoutError } from '../errors.ts'

/** Run QMP commands in order on the monitor at `path`; resolves with their returns. */
export async function qmp(path: string, commands: Array<{ execute: string; arguments?: object }>, timeoutMs = 5000): Promise<unknown[]> {
  const sock: Socket = connect(path)
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<unknown[]>((resolve, reject) => {
      timer = setTimeout(() => reject(new XcTimeoutError(`QMP at ${path} did not answer within ${timeoutMs} ms`)), timeoutMs)
      const queue = [{ execute: 'qmp_capabilities' }, ...commands]
      const results: unknown[] = []
      let buf = ''
      let greeted = false
      sock.setEncoding('utf8')
      sock.on('error', reject)
      sock.on('close', () => {
        // `quit` closes the socket before or instead of answering.
        if (queue.length === 0 || commands.at(-1)?.execute === 'quit') resolve(results)
        else reject(new Error(`QMP at ${path} closed`))
      })
      sock.on('data', (d: string) => {
        buf += d
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim()
          buf = buf.slice(nl + 1)
          if (!line) continue
          const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string }
          if (msg.event) continue
          if (msg.QMP && !greeted) {
            greeted = true
          } else if (msg.error) {
            return reject(new Error(`QMP ${JSON.stringify(queue[0])}: ${msg.error.desc}`))
          } else if ('return' in msg) {
            const done = queue.shift()
            if (done?.execute !== 'qmp_capabilities') results.push(msg.return)
          }
          if (greeted && queue.length) {
            if (!(queue as Array<{ sent?: boolean }>)[0].sent) {
              ;(queue as Array<{ sent?: boolean }>)[0].sent = true
              const { execute, arguments: args } = queue[0] as { execute: string; arguments?: object }
              sock.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n')
            }
          } else if (greeted && !queue.length) {
            resolve(results)
          }
        }
      })
    })
  } finally {
    clearTimeout(timer)
    sock.destroy()
  }
}
