// A minimal QMP (QEMU Machine Protocol) client over the VM's Unix socket.
import { connect, type Socket } from 'node:net'
import { MonitorError } from '../errors.ts'

interface Command {
  execute: string
  arguments?: object
}

/**
 * Run QMP commands in order on the monitor at `path`; resolves with their
 * returns. Every failure (no monitor, a refused command, a line that is not
 * JSON, no answer in time) rejects with a MonitorError.
 */
export async function qmp(path: string, commands: Command[], timeoutMs = 5000): Promise<unknown[]> {
  const what = commands.map((c) => c.execute).join(', ')
  const sock: Socket = connect(path)
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<unknown[]>((resolve, reject) => {
      const fail = (message: string, cause?: unknown): void => reject(new MonitorError(path, what, message, { cause }))
      timer = setTimeout(() => fail(`QMP at ${path} did not answer ${what} within ${timeoutMs} ms`), timeoutMs)
      // Copies: `sent` is marked on the queue's own objects, never on the caller's (a command object used twice was never sent the second time).
      const queue: Array<Command & { sent?: boolean }> = [{ execute: 'qmp_capabilities' }, ...commands.map((c) => ({ ...c }))]
      const results: unknown[] = []
      let buf = ''
      let greeted = false
      const sendNext = (): void => {
        const next = queue[0]
        if (!next || next.sent) return
        next.sent = true
        sock.write(JSON.stringify(next.arguments ? { execute: next.execute, arguments: next.arguments } : { execute: next.execute }) + '\n')
      }
      sock.setEncoding('utf8')
      sock.on('error', (e: NodeJS.ErrnoException) =>
        fail(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no QEMU monitor at ${path} (${e.code}): the VM is not running` : `QMP at ${path}: ${e.message}`, e),
      )
      sock.on('close', () => {
        // `quit` closes the socket before or instead of answering.
        if (queue.length === 0 || commands.at(-1)?.execute === 'quit') resolve(results)
        else fail(`QMP at ${path} closed before answering ${queue[0].execute}`)
      })
      sock.on('data', (d: string) => {
        buf += d
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim()
          buf = buf.slice(nl + 1)
          if (!line) continue
          let msg: { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string }
          try {
            msg = JSON.parse(line)
          } catch (e) {
            return fail(`QMP at ${path} sent a line that is not JSON: ${line.slice(0, 200)}`, e)
          }
          if (msg.event) continue
          if (msg.QMP && !greeted) greeted = true
          else if (msg.error) return fail(`QMP ${queue[0]?.execute}: ${msg.error.desc}`)
          else if ('return' in msg) {
            const done = queue.shift()
            if (done?.execute !== 'qmp_capabilities') results.push(msg.return)
          }
          if (greeted && queue.length) sendNext()
          else if (greeted) return resolve(results)
        }
      })
    })
  } finally {
    clearTimeout(timer)
    sock.destroy()
  }
}
