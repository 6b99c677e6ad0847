// validateOptions = checkOptions + preflight: every problem in one ClusterConfigError.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { validateOptions } from '../../src/cluster/validate.ts'
import { ClusterConfigError, PermissionError, XclusterError } from '../../src/errors.ts'
import type { ClusterOptions } from '../../src/cluster/options.ts'

const root = mkdtempSync(join(tmpdir(), 'xc-unit-validate-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

// A PATH with no qemu at all, and one with a stand-in qemu-system-x86_64.
const emptyBin = join(root, 'empty-bin')
mkdirSync(emptyBin)
const fakeBin = join(root, 'fake-bin')
mkdirSync(fakeBin)
writeFileSync(join(fakeBin, 'qemu-system-x86_64'), '#!/bin/sh\nexit 0\n')
chmodSync(join(fakeBin, 'qemu-system-x86_64'), 0o755)

// A home with no image, and one with (empty stand-ins for) a built image.
const emptyHome = join(root, 'empty-home')
mkdirSync(emptyHome)
const builtHome = join(root, 'built-home')
mkdirSync(join(builtHome, 'image'), { recursive: true })
for (const f of ['manifest.json', 'vmlinuz', 'base.cpio']) writeFileSync(join(builtHome, 'image', f), '')

const plainFile = join(root, 'not-an-overlay.txt')
writeFileSync(plainFile, 'x')
const notExecutable = join(root, 'setup.sh')
writeFileSync(notExecutable, '#!/bin/sh\n')
chmodSync(notExecutable, 0o644)

const QEMU_MISSING =
  'qemu-system-x86_64 is not installed (not on PATH). Run `npm run setup`, or as root: apt-get install qemu-system-x86'

function problemsOf(opts: ClusterOptions): string[] {
  try {
    validateOptions(opts)
  } catch (e) {
    expect(e).toBeInstanceOf(ClusterConfigError)
    expect(e).toBeInstanceOf(XclusterError)
    return (e as ClusterConfigError).problems
  }
  throw new Error('validateOptions did not throw')
}

beforeEach(() => {
  vi.stubEnv('XCLUSTER_KERNEL', '')
  vi.stubEnv('XCLUSTER_MODULES', '')
  vi.stubEnv('XCLUSTER_HOME', '')
  vi.stubEnv('PATH', fakeBin)
})
afterEach(() => {
  vi.unstubAllEnvs()
})

describe('validateOptions', () => {
  it('throws one ClusterConfigError with the option problems and the host problems together', () => {
    vi.stubEnv('PATH', emptyBin)
    let err: unknown
    try {
      validateOptions({ nvm: 0, nrouters: 21, mem: 64, overlays: ['/nonexistent/ovl'], home: emptyHome })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ClusterConfigError)
    const e = err as ClusterConfigError
    expect(e.name).toBe('ClusterConfigError')
    expect(e).not.toBeInstanceOf(PermissionError)
    expect(e.problems).toEqual([
      'Expected `nvm` to be an integer 1-200, got `0`',
      'Expected `nrouters` to be an integer 0-20, got `21`',
      'Expected `mem` to be an integer 80-16384, got `64` (this kernel does not boot with less than 80 MiB)',
      QEMU_MISSING,
      `No VM image in ${join(emptyHome, 'image')}. Run \`npm run setup\` first (or set XCLUSTER_HOME to where it was built)`,
      'Overlay /nonexistent/ovl (in `overlays`) does not exist',
    ])
    expect(e.message.split('\n')[0]).toBe('Invalid cluster options (6 problems):')
    for (const p of e.problems) expect(e.message).toContain(`  - ${p}`)
  })

  it('reports a missing kernel and its missing modules directory (no image needed then)', () => {
    expect(problemsOf({ kernel: '/nonexistent/vmlinuz', home: emptyHome })).toEqual([
      'Kernel /nonexistent/vmlinuz does not exist (option `kernel` or XCLUSTER_KERNEL)',
      'A custom kernel needs its modules directory (lib/modules/<version>) in option `modules` or XCLUSTER_MODULES',
    ])
    expect(problemsOf({ kernel: '/nonexistent/vmlinuz', modules: '/nonexistent/modules', home: emptyHome })).toEqual([
      'Kernel /nonexistent/vmlinuz does not exist (option `kernel` or XCLUSTER_KERNEL)',
      'Modules directory /nonexistent/modules does not exist (option `modules` or XCLUSTER_MODULES)',
    ])
  })

  it('takes the kernel from XCLUSTER_KERNEL', () => {
    vi.stubEnv('XCLUSTER_KERNEL', '/nonexistent/env-vmlinuz')
    vi.stubEnv('XCLUSTER_MODULES', '/nonexistent/env-modules')
    expect(problemsOf({ home: emptyHome })).toEqual([
      'Kernel /nonexistent/env-vmlinuz does not exist (option `kernel` or XCLUSTER_KERNEL)',
      'Modules directory /nonexistent/env-modules does not exist (option `modules` or XCLUSTER_MODULES)',
    ])
  })

  it('finds the image through XCLUSTER_HOME when no home option is given', () => {
    vi.stubEnv('XCLUSTER_HOME', emptyHome)
    expect(problemsOf({})).toEqual([
      `No VM image in ${join(emptyHome, 'image')}. Run \`npm run setup\` first (or set XCLUSTER_HOME to where it was built)`,
    ])
  })

  it('names the option list of each bad overlay', () => {
    expect(
      problemsOf({
        home: builtHome,
        overlaysRole: { router: ['/nonexistent/r'] },
        overlaysVm: { 2: ['/nonexistent/v2', plainFile] },
      }),
    ).toEqual([
      'Overlay /nonexistent/r (in `overlaysRole.router`) does not exist',
      'Overlay /nonexistent/v2 (in `overlaysVm[2]`) does not exist',
      `Overlay ${plainFile} (in \`overlaysVm[2]\`) is neither a directory nor a .tar file`,
    ])
  })

  it('checks a net-setup script path', () => {
    expect(problemsOf({ home: builtHome, network: { netSetup: '/nonexistent/setup' } })).toEqual([
      'Net-setup script /nonexistent/setup does not exist',
    ])
    expect(problemsOf({ home: builtHome, network: { netSetup: notExecutable } })).toEqual([
      `Net-setup script ${notExecutable} is not executable (chmod +x it)`,
    ])
  })

  it('returns the spec when nothing is wrong', () => {
    const spec = validateOptions({ home: builtHome, nvm: 2, nrouters: 1, overlays: [root] })
    expect(spec.vms).toEqual([1, 2, 201])
    expect(spec.overlays).toEqual([root])
  })

  it('reports a single problem in the singular', () => {
    let err: unknown
    try {
      validateOptions({ home: builtHome, accel: 'fast' as 'tcg' })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ClusterConfigError)
    expect((err as ClusterConfigError).message).toBe(
      "Invalid cluster options (1 problem):\n  - Expected `accel` to be 'auto', 'kvm' or 'tcg', got `fast`",
    )
  })
})
