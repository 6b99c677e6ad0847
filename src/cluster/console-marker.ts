// Waits for a line on a VM's console file. QEMU appends to the file; an
// inotify watch (fs.watch) wakes the wait at once, and a slow poll covers
// what a watch can miss. Only the new bytes are read each time.
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs'

/** Resolves true when `marker` is seen, false at `timeoutMs` or when `gone()` says to stop. */
export function waitForConsoleMarker(path: string, marker: string, timeoutMs: number, gone: () => boolean = () => false, pollMs = 100): Promise<boolean> {
  let offset = 0
  let carry = ''
  let done = false
  let watcher: FSWatcher | undefined
  let timer: NodeJS.Timeout | undefined
  let deadline: NodeJS.Timeout | undefined
  let finish: (v: boolean) => void = () => {}
  const promise = new Promise<boolean>((resolve) => (finish = resolve))
  const end = (v: boolean): void => {
    if (done) return
    done = true
    watcher?.close()
    clearInterval(timer)
    clearTimeout(deadline)
    finish(v)
  }
  const check = (): void => {
    if (done) return
    if (gone()) return end(false)
    let fd: number | undefined
    try {
      const size = statSync(path).size
      if (size <= offset) return
      fd = openSync(path, 'r')
      const buf = Buffer.alloc(size - offset)
      const n = readSync(fd, buf, 0, buf.length, offset)
      offset += n
      const text = carry + buf.toString('latin1', 0, n)
      if (text.includes(marker)) return end(true)
      carry = text.slice(-marker.length)
    } catch {
      // not there yet
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }
  try {
    watcher = watch(path, { persistent: false }, () => check())
    watcher.on('error', () => {})
  } catch {
    // no file yet: the poll covers it
  }
  timer = setInterval(check, pollMs)
  deadline = setTimeout(() => end(false), timeoutMs)
  check()
  return promise
}
