// A program of this machine run by the harness (argv, never a shell): said
// first at the logger's debug level (XCLUSTER_LOG=debug shows every host
// command), then run with execa, resolving whatever its exit code.
import { execa, type Options } from 'execa'
import type { Logger } from '../log.ts'
import { shellQuote } from '../pure/quote.ts'

/** `argv` as a person would type it. */
export function commandLine(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : shellQuote(a))).join(' ')
}

/** What a host command did. */
export interface HostRun {
  stdout: string
  stderr: string
  exitCode?: number
  signal?: string
  timedOut: boolean
}

/** Run `argv` (said to `log` at debug first, with `input` when given); resolves whatever its exit code. */
export async function runHost(log: Logger | undefined, argv: string[], opts: Pick<Options, 'input' | 'timeout' | 'env' | 'cwd'> = {}): Promise<HostRun> {
  log?.debug(`run: ${commandLine(argv)}${typeof opts.input === 'string' && opts.input ? ` <<<${JSON.stringify(opts.input.length > 400 ? opts.input.slice(0, 400) + '...' : opts.input)}` : ''}`)
  const r = await execa(argv[0], argv.slice(1), { reject: false, ...opts })
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut }
}
