// The report of the rc scripts that failed at a VM's boot, as the boot
// script writes it (/run/xcluster-rc-failed, see ../image/guest-files.ts):
// per script a `script PATH` line, then `exit N` and the labelled last lines
// of its output and error (each prefixed `|`), or `not-executable`. Pure.
import type { RcFailure } from '../errors.ts'

export type { RcFailure }

/** The failures in `report` (empty when it is empty). */
export function parseRcReport(report: string): RcFailure[] {
  const out: RcFailure[] = []
  let cur: RcFailure | undefined
  let into: 'stdout' | 'stderr' | undefined
  for (const line of report.split('\n')) {
    if (line.startsWith('script ')) {
      cur = { script: line.slice('script '.length), notExecutable: false, stdout: [], stderr: [] }
      into = undefined
      out.push(cur)
    } else if (!cur) continue
    else if (line.startsWith('|') && into) cur[into].push(line.slice(1))
    else if (line === 'not-executable') cur.notExecutable = true
    else if (line.startsWith('exit ')) cur.exitCode = Number(line.slice('exit '.length))
    else if (line === 'stdout' || line === 'stderr') into = line
  }
  return out
}

/** What failed, one line: `/etc/init.d/40bird.rc exited with 1` or `... is not executable (not run)`. */
export function rcFailureLine(f: RcFailure): string {
  return f.notExecutable ? `${f.script} is not executable (not run; chmod +x it in the overlay)` : `${f.script} exited with ${f.exitCode}`
}

/** The whole report of `vm`'s failures, labelled, for stderr and a test's report. */
export function formatRcFailures(vm: string, failures: RcFailure[]): string {
  const lines: string[] = []
  for (const f of failures) {
    lines.push(`${vm}: rc script ${rcFailureLine(f)}`)
    if (f.notExecutable) continue
    const log = f.script.replace(/^.*\//, '/var/log/')
    for (const [label, text, file] of [['stdout', f.stdout, `${log}.log`], ['stderr', f.stderr, `${log}.err`]] as const) {
      if (!text.length) lines.push(`  ${label}: (nothing)`)
      else lines.push(`  ${label} (last ${text.length} line${text.length === 1 ? '' : 's'}, all in ${file}):`, ...text.map((l) => `    ${l}`))
    }
  }
  return lines.join('\n')
}
