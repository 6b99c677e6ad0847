// xc packages: build a package layer ahead of time (for a machine without
// network: build here, then copy $XCLUSTER_HOME/packages), or list the cache.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkOptions } from '../cluster/options.ts'
import { ClusterConfigError } from '../errors.ts'
import { xclusterHome } from '../host/home.ts'
import { packageLayer, type LayerManifest } from '../packages/layer.ts'
import { strictArgs, type Command } from './args.ts'
import { CliUsageError } from './cli-error.ts'

const packages: Command = {
  name: 'packages',
  summary:
    'Resolve Debian packages with their dependencies, download them and build their layer, as `xc start --packages=...` would, ' +
    'and print what is in it. With --list: the layers in the cache.',
  usage: 'packages [--update] [--json] NAME...  |  packages --list [--json]',
  options: [
    '  --update   fetch the package lists again first (newer versions, a new point release)',
    '  --list     the layers in the cache ($XCLUSTER_HOME/packages/layers)',
    '  --json     machine-readable output',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = strictArgs(args, { update: { type: 'boolean' }, list: { type: 'boolean' }, json: { type: 'boolean' } }, [0, 1000])
    const home = xclusterHome()
    const out = (s: string): void => void process.stdout.write(s)
    if (values.list) {
      if (positionals.length) throw new CliUsageError('--list takes no package names')
      const dir = join(home, 'packages', 'layers')
      const layers = existsSync(dir)
        ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as LayerManifest)
        : []
      if (values.json) out(JSON.stringify(layers, null, 2) + '\n')
      else for (const l of layers) out(`${l.key}  ${l.names.join(',')}  (${l.packages.length} packages, ${(l.bytes / 1048576).toFixed(0)} MiB)\n`)
      return 0
    }
    if (!positionals.length) throw new CliUsageError('name the Debian packages (xc packages frr keepalived), or give --list')
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
