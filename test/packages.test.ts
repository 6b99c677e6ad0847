// Debian packages in real VMs: the programs run as installed (their paths,
// libraries, users and directories), per-VM sets get layers of their own,
// the layer is read-only but the root stays writable over it, the tools and
// busybox are still there; a name Debian does not have stops the start
// before anything runs; and `xc start --packages` and `xc packages` as a
// user types them.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { startCluster } from '../src/cluster/start-cluster.ts'
import type { RunningCluster } from '../src/cluster/running-cluster.ts'
import { ClusterConfigError } from '../src/errors.ts'
import { xclusterHome } from '../src/host/home.ts'
import { packageLayer } from '../src/packages/layer.ts'
import { leftovers, privateHome, watchClusterIds } from './helpers/host.ts'

const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))

describe('a package Debian does not have', () => {
  test('is one ClusterConfigError that names it (and only it), and no cluster is ever made', async () => {
    const { home, remove } = privateHome()
    try {
      // The package cache is the shared one: the lists and the layers are there already.
      mkdirSync(join(xclusterHome(), 'packages'), { recursive: true })
      symlinkSync(join(xclusterHome(), 'packages'), join(home, 'packages'))
      const seen = watchClusterIds(home)
      const err = await startCluster({ home, nvm: 1, nrouters: 0, packages: ['iproute2', 'no-such-package-xc'], packagesVm: { 1: ['nor-this-one-xc'] } }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ClusterConfigError)
      const problems = (err as ClusterConfigError).problems
      expect(problems).toHaveLength(2)
      expect(problems[0]).toMatch(/^package no-such-package-xc: not in the Debian archive .*\(for vm-001\)$/)
      expect(problems[1]).toMatch(/^package nor-this-one-xc: /)
      expect(seen().size).toBe(0)
      expect(existsSync(join(home, 'run'))).toBe(false)
    } finally {
      await remove()
    }
  })
})

describe('a cluster with packages', () => {
  let cluster: RunningCluster
  beforeAll(async () => {
    cluster = await startCluster({ name: 'pkgs', nvm: 2, nrouters: 0, packages: ['frr'], packagesVm: { 2: ['curl'] } })
  })
  afterAll(async () => {
    const id = cluster?.id
    await cluster?.stop()
    if (id) expect(await leftovers(xclusterHome(), [id])).toEqual([])
  })

  test('the programs run at their Debian paths, with the users, groups and directories their maintainer scripts make', async () => {
    const frr = (await packageLayer(xclusterHome(), ['frr'])).manifest.packages.find((p) => p.name === 'frr')!
    for (const vm of cluster.vms) {
      expect(await vm.run('/usr/lib/frr/zebra --version | head -1')).toBe(`zebra version ${frr.version.replace(/-.*$/, '')}\n`)
      expect(await vm.run('id frr')).toMatch(/^uid=\d+\(frr\) gid=\d+\(frr\) groups=\d+\(frr\),\d+\(frrvty\)$/m)
      // /run/frr (tmpfiles.d, made at boot) belongs to frr; /etc/frr as FRR's postinst leaves it (chown frr:, chmod o-rwx).
      expect(await vm.run("stat -c '%U:%G %a' /run/frr /etc/frr /etc/frr/daemons")).toBe('frr:frr 755\nfrr:frr 750\nfrr:frr 640\n')
      expect(await vm.run("grep -c '^frr ' /xp/.xc/packages")).toBe('1\n')
    }
  })

  test('each VM has its own set: vm-002 has curl, vm-001 has not, and QEMU was given the layer of its set', async () => {
    expect((await cluster.vm(1).exec('command -v curl')).exitCode).not.toBe(0)
    expect(await cluster.vm(2).run('curl --version | head -1')).toMatch(/^curl \d/)
    const one = await packageLayer(xclusterHome(), ['frr'])
    const two = await packageLayer(xclusterHome(), ['curl', 'frr'])
    expect([one.cached, two.cached]).toEqual([true, true])
    const cmdline = (vm: number): string => readFileSync(`/proc/${cluster.vm(vm).process.record.pid}/cmdline`, 'utf8').split('\0').join(' ')
    expect(cmdline(1)).toContain(`file=${one.path},`)
    expect(cmdline(2)).toContain(`file=${two.path},`)
  })

  test('the layer is read-only, the root over it writable; busybox and the tools are still there', async () => {
    const vm = cluster.vm(1)
    expect((await vm.exec('touch /xp/usr/lib/frr/x')).exitCode).not.toBe(0)
    expect(await vm.run('echo hi > /usr/lib/frr/written && cat /usr/lib/frr/written')).toBe('hi\n')
    expect(await vm.run('tcpdump --version 2>&1 | head -1')).toMatch(/^tcpdump version /)
    expect(await vm.run('busybox uname -s')).toBe('Linux\n')
    // The tools are laid over the root with the layer (not linked): their dropbear serves vm.ssh().
    const ssh = await vm.ssh()
    try {
      const r = await ssh.exec('id -un; command -v tcpdump')
      expect([r.exitCode, r.stdout]).toEqual([0, expect.stringMatching(/^root\n\/usr\/s?bin\/tcpdump\n$/)])
    } finally {
      ssh.close()
    }
    // Debian's own shell scripts find their interpreter (#!/bin/bash) as on an installed system.
    expect(await vm.run('head -1 /usr/lib/frr/frrinit.sh && /bin/bash -c "echo \\$BASH_VERSION" | cut -d. -f1')).toMatch(/^#!\/bin\/bash\n\d+\n$/)
  })
})

describe('xc', () => {
  let home: string
  let remove: () => Promise<void>
  beforeAll(() => {
    ;({ home, remove } = privateHome())
    mkdirSync(join(xclusterHome(), 'packages'), { recursive: true })
    symlinkSync(join(xclusterHome(), 'packages'), join(home, 'packages'))
  })
  afterAll(async () => {
    await xc('stop', '--name=cli-pkgs')
    await remove()
  })
  const xc = (...args: string[]) => execa(process.execPath, [XC, ...args], { reject: false, env: { XCLUSTER_HOME: home }, timeout: 240_000 })

  test('xc start --packages=curl: the VM has curl; xc stop', async () => {
    const start = await xc('start', '--name=cli-pkgs', '--nvm=1', '--nrouters=0', '--packages=curl')
    expect(start.exitCode, start.stderr).toBe(0)
    const r = await xc('rsh', '--name=cli-pkgs', '1', 'curl --version | head -1')
    expect([r.exitCode, r.stdout]).toEqual([0, expect.stringMatching(/^curl \d/)])
    expect((await xc('stop', '--name=cli-pkgs')).exitCode).toBe(0)
  })

  test('xc start --packages with a name Debian does not have: exit 1, the name in the message, nothing started', async () => {
    const r = await xc('start', '--name=cli-pkgs-bad', '--nvm=1', '--nrouters=0', '--packages=curl,no-such-package-xc')
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain('package no-such-package-xc: not in the Debian archive')
    expect(existsSync(join(home, 'run')) ? (await execa('ls', [join(home, 'run')])).stdout : '').toBe('')
  })

  test('xc packages builds (or finds) a layer and lists its packages; --list shows it', async () => {
    const r = await xc('packages', 'curl')
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^layer [0-9a-f]{16}: \S+\.ext4/)
    expect(r.stdout).toMatch(/^ {2}curl \S+$/m)
    expect(r.stdout).toMatch(/^ {2}libc6 \S+$/m)
    const list = JSON.parse((await xc('packages', '--list', '--json')).stdout) as Array<{ names: string[] }>
    expect(list.some((l) => l.names.join() === 'curl')).toBe(true)
    const bad = await xc('packages', 'Not_A_Name')
    expect(bad.exitCode).toBe(1)
    expect(bad.stderr).toContain('Debian package name')
  })
})
