// xc packages: build a package layer ahead of time (for a machine without
// network: build here, then copy $XCLUSTER_HOME/packages), list the layers
// of the cache with their size and last use, and remove them (rm, prune),
// as `xc snapshot` does for snapshots.
import { checkOptions } from '../cluster/options.ts'
import { ClusterConfigError } from '../errors.ts'
import { xclusterHome } from '../host/home.ts'
import { listLayers, PACKAGES_MAX_MB, pruneLayers, removeLayer } from '../packages/cache.ts'
import { packageLayer } from '../packages/layer.ts'
import { strictArgs, type Command } from './args.ts'
import { CliUsageError } from './cli-error.ts'

const packages: Command = {
  name: 'packages',
  summary:
    'Resolve Debian packages with their dependencies, download them and build their layer, as `xc start --packages=...` would, ' +
    'and print what is in it. `list`: the layers of this home (XCLUSTER_HOME/packages/layers) with their size and last use; `rm KEY` removes one ' +
    `(a prefix of its key is enough); \`prune\` removes the least recently used down to a bound (--max-mb, default XCLUSTER_PACKAGES_MAX_MB or ${PACKAGES_MAX_MB}; 0 removes all).`,
  usage: 'packages [--update] [--json] NAME...  |  packages list [--json]  |  packages rm KEY  |  packages prune [--max-mb=N]',
  options: [
    '  --update     fetch the package lists again first (newer versions, a new point release)',
    '  --json       machine-readable output',
    '  --max-mb=N   prune: keep at most N MiB of layers',
    '  --list       the same as `list`',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = strictArgs(args, { update: { type: 'boolean' }, list: { type: 'boolean' }, json: { type: 'boolean' }, 'max-mb': { type: 'string' } }, [0, 1000])
    const home = xclusterHome()
    const out = (s: string): void => void process.stdout.write(s)
    const [sub, key] = positionals
    if (values.list || sub === 'list') {
      if (positionals.length > (values.list ? 0 : 1)) throw new CliUsageError('`list` takes no package names')
      const layers = listLayers(home)
      if (values.json) out(JSON.stringify(layers, null, 2) + '\n')
      else if (!layers.length) out('no package layers\n')
      else for (const l of layers) out(`${l.key}  ${l.names.join(',')}  ${l.packages} packages  ${(l.bytes / 1048576).toFixed(0)} MiB  used ${l.usedAt}\n`)
      return 0
    }
    if (sub === 'rm') {
      if (!key || positionals.length > 2) throw new CliUsageError('name one layer: xc packages rm KEY (xc packages list shows the keys)')
      const removed = await removeLayer(home, key)
      if (!removed.length) {
        process.stderr.write(`xc packages rm: no single layer with key ${key} (xc packages list)\n`)
        return 1
      }
      out(`removed ${removed[0]}\n`)
      return 0
    }
    if (sub === 'prune') {
      if (positionals.length > 1) throw new CliUsageError('`prune` takes no arguments but --max-mb=N')
      const max = values['max-mb'] === undefined ? undefined : Number(values['max-mb'])
      if (max !== undefined && !(Number.isInteger(max) && max >= 0)) throw new CliUsageError(`--max-mb: expected a number of MiB, 0 or more, got ${values['max-mb']}`)
      const removed = await pruneLayers(home, max)
      out(removed.length ? removed.map((k) => `removed ${k}\n`).join('') : 'nothing to prune\n')
      return 0
    }
    if (!positionals.length) throw new CliUsageError('name the Debian packages (xc packages frr keepalived), or give list, rm KEY or prune')
    const { problems } = checkOptions({ packages: positionals })
    if (problems.length) throw new ClusterConfigError(problems)
    const layer = await packageLayer(home, positionals, { update: values.update, log: (l) => process.stderr.write(`xc: ${l}\n`) })
    if (values.json) out(JSON.stringify({ path: layer.path, cached: layer.cached, ...layer.manifest }, null, 2) + '\n')
    else {
      out(`layer ${layer.manifest.key}: ${layer.path}${layer.cached ? ' (cached)' : ''}\n`)
      for (const p of layer.manifest.packages) out(`  ${p.name} ${p.version}\n`)
    }
    return 0
  },
}

export const packageCommands: Command[] = [packages]
