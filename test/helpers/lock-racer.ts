// Run by lock-race.test.ts, several at once: takes the lock at the test's
// command and checks, inside, that nobody else is. A marker file holds the
// pid of the process inside; finding it there with that process alive means
// two are inside at once. Commands on stdin, one a line:
//   enter MS   take the lock, stay MS ms inside, leave; then print `done`
//   hold       take the lock and keep it (print `held`): the test kills it there
// When stdin ends: one JSON line, entries, violations and errors (every
// rejection, by class and message), and exit 0.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { withDirLock } from '../../src/host/dir-lock.ts'
import { procAlive } from '../../src/host/proc.ts'

const [lock, marker] = process.argv.slice(2)
let entries = 0
let violations = 0
const errors: string[] = []

/** Write the marker; one already there whose process is alive is a second holder. */
function mark(): void {
  try {
    writeFileSync(marker, String(process.pid), { flag: 'wx' })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    // Left by a holder killed inside (its pid is gone), or someone is inside now.
    const other = Number(readFileSync(marker, 'utf8'))
    if (other > 0 && other !== process.pid && procAlive(other)) violations++
    writeFileSync(marker, String(process.pid))
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.split(' ')
  if (cmd === 'hold') {
    void withDirLock(lock, async () => {
      mark()
      process.stdout.write('held\n')
      await new Promise(() => {})
    }).catch((e: Error) => process.stdout.write(`error ${e.name}: ${e.message}\n`))
  } else if (cmd === 'enter') {
    try {
      await withDirLock(lock, async () => {
        entries++
        mark()
        await new Promise((r) => setTimeout(r, Number(arg)))
        unlinkSync(marker)
      }, 60_000, 'the race lock')
    } catch (e) {
      errors.push(`${(e as Error).name}: ${(e as Error).message}`)
    }
    process.stdout.write('done\n')
  }
}
process.stdout.write(JSON.stringify({ entries, violations, errors }) + '\n')
