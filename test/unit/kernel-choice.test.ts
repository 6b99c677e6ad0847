// Which kernel a cluster boots: a name or a path, and what is missing for it
// in a home, said before anything starts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isKernelName, kernelProblems } from '../../src/cluster/kernel.ts'
import { kernelPaths } from '../../src/host/home.ts'
import { resolveSettings } from '../../src/cli/settings.ts'

const home = mkdtempSync(join(tmpdir(), 'xc-kernel-choice-'))
afterAll(() => rmSync(home, { recursive: true, force: true }))

describe('the kernel option', () => {
  it('is a name without a slash and a path with one', () => {
    expect(['xcluster', 'debian', 'mine-6.1', 'vmlinuz'].map(isKernelName)).toEqual([true, true, true, true])
    expect(['./vmlinuz', '/boot/vmlinuz', 'k/vmlinux'].map(isKernelName)).toEqual([false, false, false])
  })

  it('names what is missing in the home: the default image, a kernel never built', () => {
    expect(kernelProblems({ home })).toEqual([`No VM image in ${join(home, 'image')}. Run \`npm run setup\` first (or set XCLUSTER_HOME to where it was built)`])
    expect(kernelProblems({ home, kernel: 'mine' })).toEqual([
      `No kernel \`mine\` in ${home}: build it with \`xc kernel build --name=mine ...\`, or name \`xcluster\`, \`debian\` or a path (with a /)`,
    ])
    // Debian's image is made on first use (apt-get download), so nothing is missing.
    expect(kernelProblems({ home, kernel: 'debian' })).toEqual([])
  })

  it('takes a kernel built by name once its vmlinux and modules are there', () => {
    const p = kernelPaths(home, 'mine')
    mkdirSync(join(p.out, 'lib', 'modules', '6.1.0-mine'), { recursive: true })
    writeFileSync(join(p.out, 'vmlinux'), '')
    writeFileSync(join(p.out, 'lib', 'modules', '6.1.0-mine', 'modules.dep'), '')
    writeFileSync(p.meta, JSON.stringify({ name: 'mine', key: 'k', release: '6.1.0-mine', warnings: [] }))
    expect(kernelProblems({ home, kernel: 'mine' })).toEqual([])
  })

  it('comes from --kernel on the command line', () => {
    const { options, settings } = resolveSettings({ kernel: 'debian' }, {})
    expect(options.kernel).toBe('debian')
    expect(settings.find((s) => s.key === 'kernel')).toEqual({ key: 'kernel', value: 'debian', source: 'option', from: '--kernel' })
  })
})
