// Progress while VMs boot: one line rewritten in place on a terminal, plain
// lines otherwise (CI logs).
import type { Writable } from 'node:stream'
import type { ProgressEvent } from '../plan/spec.ts'

export function progressPrinter(out: Writable & { isTTY?: boolean }): { event: (e: ProgressEvent) => void; done: () => void } {
  const booting = new Set<string>()
  const up = new Set<string>()
  let shown = false
  const tty = !!out.isTTY
  const line = (e: ProgressEvent): string =>
    `[${(e.elapsedMs / 1000).toFixed(1)}s] ${up.size}/${e.total} up` +
    (booting.size ? `; booting: ${[...booting].join(' ')}` : '')
  return {
    event(e) {
      if (e.kind === 'booting') booting.add(e.vm)
      if (e.kind === 'ready' || e.kind === 'failed') booting.delete(e.vm)
      if (e.kind === 'ready') up.add(e.vm)
      if (tty) {
        out.write(`\r\x1b[K${line(e)}`)
        shown = true
      } else {
        out.write(`[${(e.elapsedMs / 1000).toFixed(1)}s] ${e.vm} ${e.kind} (${up.size}/${e.total} up)\n`)
      }
    },
    done() {
      if (tty && shown) out.write('\n')
    },
  }
}
