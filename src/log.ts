// The harness's logger: every line the library says is attributed (to the
// cluster, a VM, a host: `xcluster: cluster x: vm-001: ...`) and has a level.
// One is handed down with a cluster's boot context; by default it writes to
// stderr, the Vitest fixture hands one that writes into the running test's
// output. XCLUSTER_LOG=debug also shows every host command the harness runs,
// warn or error fewer lines. No other library code writes to stderr itself.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

export interface Logger {
  readonly level: LogLevel
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
  error(message: string): void
  /** This logger, its lines attributed to `scope` too (`cluster x`, `vm-001`, `host a`). */
  child(scope: string): Logger
}

/** The level XCLUSTER_LOG asks for (debug, info, warn, error), info by default. */
export function levelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const v = env.XCLUSTER_LOG
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info'
}

/** A logger whose lines, at `level` and above, go to `write` as `<scopes joined by ': '>: <message>`. */
export function makeLogger(write: (line: string, level: LogLevel) => void, level: LogLevel = levelFromEnv(), scopes: string[] = ['xcluster']): Logger {
  const say = (l: LogLevel) => (message: string): void => {
    if (RANK[l] >= RANK[level]) write(`${[...scopes, message].join(': ')}`, l)
  }
  return {
    level,
    debug: say('debug'),
    info: say('info'),
    warn: say('warn'),
    error: say('error'),
    child: (scope) => makeLogger(write, level, [...scopes, scope]),
  }
}

/** The default logger: stderr, at XCLUSTER_LOG's level. */
export function stderrLogger(level?: LogLevel): Logger {
  return makeLogger((line) => void process.stderr.write(line + '\n'), level)
}

/** A logger that says nothing. */
export const SILENT: Logger = makeLogger(() => {}, 'error')
