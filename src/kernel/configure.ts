// The .config of a kernel build: the harness's own (needs.config,
// base.config and net.config on allnoconfig), the same with a user's
// fragment last, or a user's whole config with the harness's needs merged
// in (olddefconfig). Then what did not hold is listed.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeUnmet, parseKconfig, unmetNeeds, unmetOptions } from './kconfig.ts'

const HERE = fileURLToPath(new URL('.', import.meta.url))

/** Needs that may be modules: the base image loads virtio, the tools disk overlayfs. */
export const MODULAR_NEEDS: ReadonlySet<string> = new Set(['CONFIG_VIRTIO_PCI', 'CONFIG_VIRTIO_NET', 'CONFIG_VIRTIO_BLK', 'CONFIG_OVERLAY_FS'])

/** The harness's fragments, in merge order: its needs, then the rest of a test VM, then the network features. */
export const FRAGMENTS = ['needs.config', 'base.config', 'net.config'] as const

/** The text of one of the harness's fragments. */
export function fragmentText(name: (typeof FRAGMENTS)[number]): string {
  return readFileSync(join(HERE, name), 'utf8')
}

/** How the config is made: the harness's, the harness's plus a fragment of the user's, or the user's own config. */
export type ConfigSource = { kind: 'harness' } | { kind: 'fragment'; file: string } | { kind: 'config'; file: string }

export interface Configured {
  /** Unmet options of the harness's base and net fragments (a tree other than Debian's may lack some): reported, not fatal. */
  warnings: string[]
  /** Unmet needs, or unmet options of the user's fragment: the kernel is not built. */
  problems: string[]
}

/** The make invocations that configure `build` (O=) from `src`; run by the caller, then check() reads the result. */
export function configureSteps(src: string, build: string, how: ConfigSource): { prepare: () => void; make: { args: string[]; env: Record<string, string> } } {
  const merged = join(build, 'xc-fragment.config')
  const harness = FRAGMENTS.map((f) => fragmentText(f)).join('\n')
  if (how.kind === 'config') {
    return {
      // The user's config, then the needs: for an option set twice kconfig takes the later line.
      prepare: () => {
        writeFileSync(join(build, '.config'), readFileSync(how.file, 'utf8') + '\n' + fragmentText('needs.config'))
        writeFileSync(merged, fragmentText('needs.config'))
      },
      make: { args: ['-C', src, `O=${build}`, 'olddefconfig'], env: {} },
    }
  }
  const user = how.kind === 'fragment' ? '\n# --config-fragment ' + how.file + '\n' + readFileSync(how.file, 'utf8') : ''
  return {
    prepare: () => writeFileSync(merged, harness + user),
    make: { args: ['-C', src, `O=${build}`, 'allnoconfig'], env: { KCONFIG_ALLCONFIG: merged } },
  }
}

/** What the resulting .config in `build` lacks of the harness's needs, its other fragments and the user's fragment. */
export function checkConfig(build: string, how: ConfigSource): Configured {
  const config = parseKconfig(readFileSync(join(build, '.config'), 'utf8'))
  const problems = unmetNeeds(parseKconfig(fragmentText('needs.config')), config, MODULAR_NEEDS).map(
    (u) => `the harness needs ${describeUnmet(u)}: its VMs do not boot without it`,
  )
  const warnings: string[] = []
  if (how.kind !== 'config') {
    const user = how.kind === 'fragment' ? parseKconfig(readFileSync(how.file, 'utf8')) : new Map<string, string>()
    for (const f of ['base.config', 'net.config'] as const) {
      for (const u of unmetOptions(parseKconfig(fragmentText(f)), config)) {
        if (!user.has(u.option)) warnings.push(`${f}: ${describeUnmet(u)}`)
      }
    }
    for (const u of unmetOptions(user, config)) problems.push(`your fragment asks for ${describeUnmet(u)}: its dependencies are not met (see \`make menuconfig\`, or add them to the fragment)`)
  }
  return { problems, warnings }
}

/** Problems of the config files given (before anything is made). */
export function configSourceProblems(how: ConfigSource): string[] {
  if (how.kind === 'harness') return []
  const flag = how.kind === 'config' ? '--config' : '--config-fragment'
  if (!existsSync(how.file)) return [`${flag} ${how.file} does not exist`]
  if (parseKconfig(readFileSync(how.file, 'utf8')).size === 0) return [`${flag} ${how.file} has no CONFIG_ line`]
  return []
}
