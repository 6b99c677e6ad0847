// A kernel of the user's own, built by the harness and booted by name: a
// fragment that turns on /proc/config.gz (CONFIG_IKCONFIG_PROC) merged onto
// the harness's config, built from Debian's source in the home, and a VM
// that boots it and shows the option; a VM of the default kernel beside it
// has no /proc/config.gz. The build of this fragment is made in the default
// kernel's object tree, so make redoes only what the fragment changes
// (kernel/configs.o and the links); the next run finds it cached.
// Bad input (a fragment asking for what cannot be, the harness's needs
// taken away, a reserved name) is one KernelBuildError listing every
// problem, and nothing is built.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildKernelImage } from '../src/cluster/kernel.ts'
import { KernelBuildError } from '../src/errors.ts'
import { xclusterHome } from '../src/host/home.ts'
import { kernelBuildProblems } from '../src/kernel/build-kernel.ts'
import { startCluster } from '../src/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'xc-kernel-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string): string => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

describe("a user's kernel from a config fragment", () => {
  it('builds with the fragment merged, boots by name, and shows the option from the VM', async () => {
    const fragment = file('ikconfig.config', 'CONFIG_IKCONFIG=y\nCONFIG_IKCONFIG_PROC=y\n')
    const t0 = Date.now()
    const { kernel, image } = await buildKernelImage({ home: xclusterHome(), name: 'test-ikconfig', fragment, log: (l) => console.log(`kernel.test: ${l}`) })
    console.log(`kernel.test: build ${kernel.cached ? 'cached' : 'made'} in ${((Date.now() - t0) / 1000).toFixed(1)} s (kernel ${kernel.seconds.toFixed(1)} s)`)
    expect(kernel.warnings).toEqual([])
    expect(image.kernelBoot.kind).toBe('pvh')
    const mine = await startCluster({ name: 'kernel-mine', nvm: 1, nrouters: 0, kernel: 'test-ikconfig' })
    try {
      expect(await mine.vm(1).run('uname -r')).toContain('xcluster')
      expect(await mine.vm(1).run('zcat /proc/config.gz | grep -E "^CONFIG_IKCONFIG_PROC="')).toBe('CONFIG_IKCONFIG_PROC=y\n')
    } finally {
      await mine.stop()
    }
    const stock = await startCluster({ name: 'kernel-default', nvm: 1, nrouters: 0 })
    try {
      expect((await stock.vm(1).exec('test -e /proc/config.gz')).exitCode).toBe(1)
    } finally {
      await stock.stop()
    }
  }, 1_800_000)
})

describe('bad input to xc kernel build', () => {
  it('lists every problem of the options at once, before anything is made', () => {
    const problems = kernelBuildProblems({ name: 'debian', config: join(dir, 'missing.config'), fragment: file('x.config', 'CONFIG_X=y\n'), jobs: 0 })
    expect(problems).toEqual([
      '`debian` is Debian\'s packaged kernel; give your kernel another --name',
      "give --config (a whole config) or --config-fragment (merged onto the harness's config), not both",
      `--config ${join(dir, 'missing.config')} does not exist`,
      'Expected `--jobs` to be an integer 1-256, got `0`',
    ])
    expect(kernelBuildProblems({ name: 'Has Space', source: '/nonexistent/linux' })).toEqual([
      'Expected `--name` to be 1-32 lower-case letters, digits, ., _ or - (a kernel\'s name), got `Has Space`',
      'Kernel source /nonexistent/linux does not exist (--source)',
    ])
    expect(kernelBuildProblems({ fragment: file('y.config', 'CONFIG_Y=y\n') })).toEqual([
      "`xcluster` is the harness's own kernel; give a kernel built from --source, --config or --config-fragment a --name of its own",
    ])
  })

  it("refuses a fragment whose options cannot hold and one that takes the harness's needs away, naming each", async () => {
    const fragment = file('bad.config', '# CONFIG_IPV6 is not set\nCONFIG_USB_STORAGE=y\n')
    const err = await buildKernelImage({ home: xclusterHome(), name: 'test-bad', fragment }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KernelBuildError)
    expect((err as KernelBuildError).problems).toEqual([
      'the harness needs CONFIG_IPV6=y (got n): its VMs do not boot without it',
      'your fragment asks for CONFIG_USB_STORAGE=y (got n): its dependencies are not met (see `make menuconfig`, or add them to the fragment)',
    ])
  }, 600_000)
})
