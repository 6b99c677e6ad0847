// xc kernel build | list: kernels for the VMs. `build` without options
// (re)builds the harness's own (what setup does); with --source, --config or
// --config-fragment it builds a kernel of the user's, booted by its --name
// (`xc start --kernel=NAME`, `kernel: 'NAME'`).
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { buildKernelImage, builtKernel } from '../cluster/kernel.ts'
import { DEBIAN_KERNEL, DEFAULT_KERNEL, xclusterHome } from '../host/home.ts'
import { strictArgs, type Command } from './args.ts'
import { CliUsageError } from './cli-error.ts'

const kernel: Command = {
  name: 'kernel',
  summary:
    "Build a kernel for the VMs: without options the harness's own (Debian's linux-source-6.1 with the harness's config; setup does this), " +
    "or one of yours, from your tree (--source) and your config (--config, with the harness's needs merged in) or a fragment " +
    "merged onto the harness's config (--config-fragment), booted by its --name. list: the kernels of this home.",
  usage: 'kernel build [--name=NAME] [--source=DIR] [--config=FILE | --config-fragment=FILE] [--jobs=N]  |  kernel list [--json]',
  options: [
    `  --name=NAME              the kernel's name, as clusters boot it (--kernel=NAME, kernel: 'NAME'); default ${DEFAULT_KERNEL}, the harness's own`,
    "  --source=DIR             your kernel tree (default: Debian's linux-source-6.1, unpacked in XCLUSTER_HOME/kernel-src)",
    "  --config=FILE            your whole .config; the harness's needs (virtio, PVH, serial console, ext4, ...) are merged in and what did not hold is reported",
    "  --config-fragment=FILE   options merged last onto the harness's config (allnoconfig + its fragments)",
    '  --jobs=N                 make -j (default: the cores)',
    '  --json                   list: machine-readable',
  ].join('\n'),
  async run(args) {
    const opts = {
      name: { type: 'string' as const }, source: { type: 'string' as const }, config: { type: 'string' as const },
      'config-fragment': { type: 'string' as const }, jobs: { type: 'string' as const }, json: { type: 'boolean' as const },
    }
    const { values, positionals } = strictArgs(args, opts, [1, 1])
    const home = xclusterHome()
    const out = (s: string): void => void process.stdout.write(s)
    if (positionals[0] === 'list') {
      const dir = join(home, 'kernels')
      const names = existsSync(dir) ? readdirSync(dir).filter((n) => n !== DEBIAN_KERNEL && !n.startsWith('file-')) : []
      const list = names.map((n) => builtKernel(home, n)).filter((k) => k !== undefined)
      if (values.json) out(JSON.stringify(list, null, 2) + '\n')
      else if (!list.length) out(`no kernels built in ${home} (npm run setup builds ${DEFAULT_KERNEL})\n`)
      else for (const k of list) out(`${k.name}  ${k.release}  ${k.vmlinux}\n`)
      return 0
    }
    if (positionals[0] !== 'build') throw new CliUsageError(`unknown subcommand \`${positionals[0]}\` (build or list)`)
    const jobs = values.jobs === undefined ? undefined : Number(values.jobs)
    const { kernel: k, image } = await buildKernelImage({
      home, name: values.name, source: values.source, config: values.config, fragment: values['config-fragment'], jobs,
      log: (l) => process.stderr.write(`xc: ${l}\n`),
    })
    out(`kernel ${k.name} ${k.release}${k.cached ? ' (cached)' : ''}: ${k.vmlinux}, modules ${k.modulesDir}, image ${image.initrd.replace(/\/base\.cpio$/, '')}\n`)
    if (k.name !== DEFAULT_KERNEL) out(`boot it with: xc start --kernel=${k.name}, or startCluster({ kernel: '${k.name}' })\n`)
    return 0
  },
}

export const kernelCommands: Command[] = [kernel]
