// Kernel configs and fragments as data: what a fragment asks for and what a
// .config has. Pure.

/** Option -> value (`y`, `m`, `"text"`, a number), `n` for "is not set". */
export type KconfigValues = Map<string, string>

/** The options of a .config or a fragment (`CONFIG_X=v` and `# CONFIG_X is not set`; other lines skipped). */
export function parseKconfig(text: string): KconfigValues {
  const out: KconfigValues = new Map()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line)
    if (set) {
      out.set(set[1], set[2])
      continue
    }
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line)
    if (unset) out.set(unset[1], 'n')
  }
  return out
}

/** One option a fragment asked for that the resulting config does not have. */
export interface UnmetOption {
  option: string
  want: string
  got: string
}

/** The options of `fragment` whose value in `config` differs (an option absent from `config` is `n`). */
export function unmetOptions(fragment: KconfigValues, config: KconfigValues): UnmetOption[] {
  const out: UnmetOption[] = []
  for (const [option, want] of fragment) {
    const got = config.get(option) ?? 'n'
    if (got !== want) out.push({ option, want, got })
  }
  return out
}

/** `CONFIG_X=y (got n)` */
export function describeUnmet(u: UnmetOption): string {
  return `${u.option}=${u.want} (got ${u.got})`
}

/**
 * The harness's needs that `config` lacks. A need of `y` is also met by `m`
 * where the harness loads that module itself (`modular`); every other need
 * must hold as written.
 */
export function unmetNeeds(needs: KconfigValues, config: KconfigValues, modular: ReadonlySet<string>): UnmetOption[] {
  return unmetOptions(needs, config).filter((u) => !(u.want === 'y' && u.got === 'm' && modular.has(u.option)))
}

/** Values as fragment text, one `CONFIG_X=v` (or `# CONFIG_X is not set`) a line. */
export function formatKconfig(values: KconfigValues): string {
  return [...values].map(([k, v]) => (v === 'n' ? `# ${k} is not set` : `${k}=${v}`)).join('\n') + '\n'
}
