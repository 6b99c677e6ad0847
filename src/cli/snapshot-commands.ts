// xc snapshot list | rm KEY | prune: the snapshots of the home
// (snapshot: true, xc start --snapshot=yes).
import { xclusterHome } from '../host/home.ts'
import { listSnapshots, pruneSnapshots, removeSnapshot, SNAPSHOT_MAX_MB } from '../cluster/snapshot/store.ts'
import { strictArgs, type Command } from './args.ts'
import { CliUsageError } from './cli-error.ts'

const snapshot: Command = {
  name: 'snapshot',
  summary:
    'The snapshots of this home (XCLUSTER_HOME/snapshots), one per configuration started with --snapshot=yes: list them, remove one by its key ' +
    `(or a prefix of it), or prune the least recently used down to a bound (--max-mb, default XCLUSTER_SNAPSHOT_MAX_MB or ${SNAPSHOT_MAX_MB}; 0 removes all).`,
  usage: 'snapshot list [--json]  |  snapshot rm KEY  |  snapshot prune [--max-mb=N]',
  options: ['  --json       machine-readable list', '  --max-mb=N   prune: keep at most N MiB of snapshots'].join('\n'),
  async run(args) {
    const { values, positionals } = strictArgs(args, { json: { type: 'boolean' }, 'max-mb': { type: 'string' } }, [1, 2])
    const home = xclusterHome()
    const out = (s: string): void => void process.stdout.write(s)
    const [sub, key] = positionals
    if (sub === 'list') {
      const all = listSnapshots(home).map((s) => ({ ...s.meta, secret: undefined, dir: s.dir }))
      if (values.json) out(JSON.stringify(all, null, 2) + '\n')
      else if (!all.length) out('no snapshots\n')
      else {
        for (const s of all) {
          const mib = `${(s.bytes / 1048576).toFixed(0)} MiB`
          out(s.damaged ? `${s.key}  damaged: ${s.damaged}  ${mib}  (never restored from; xc snapshot prune or rm removes it)\n` : `${s.key}  ${s.name}  ${s.vms.length} VMs  ${mib}  used ${s.usedAt}\n`)
        }
      }
      return 0
    }
    if (sub === 'rm') {
      if (!key) throw new CliUsageError('name the snapshot: xc snapshot rm KEY (xc snapshot list shows the keys)')
      const removed = removeSnapshot(home, key)
      if (!removed.length) {
        process.stderr.write(`xc snapshot rm: no single snapshot with key ${key} (xc snapshot list)\n`)
        return 1
      }
      out(`removed ${removed[0]}\n`)
      return 0
    }
    if (sub === 'prune') {
      const max = values['max-mb'] === undefined ? undefined : Number(values['max-mb'])
      if (max !== undefined && !(Number.isInteger(max) && max >= 0)) throw new CliUsageError(`--max-mb: expected a number of MiB, 0 or more, got ${values['max-mb']}`)
      const removed = await pruneSnapshots(home, max)
      out(removed.length ? removed.map((k) => `removed ${k}\n`).join('') : 'nothing to prune\n')
      return 0
    }
    throw new CliUsageError(`unknown snapshot command \`${sub}\`: list, rm or prune`)
  },
}

export const snapshotCommands: Command[] = [snapshot]
