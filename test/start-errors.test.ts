// What goes wrong at start: bad options, missing programs and rights, a VM
// that does not boot, a net-setup script that fails. Each gives one clear,
// typed error and leaves nothing behind.
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { ClusterConfigError, HostCommandError, PermissionError, VmBootError, startCluster } from '../src/index.ts'
import { NET_SETUP_FAILING } from '../fixtures/index.ts'
import { leftovers, privateHome, watchClusterIds } from './helpers/host.ts'
import { canBridge, canRootBridge, skippedBecause } from './helpers/rights.ts'

let home: string
let remove: () => void
beforeEach(() => ({ home, remove } = privateHome()))
afterEach(() => remove())

const runEntries = (): string[] => (existsSync(join(home, 'run')) ? readdirSync(join(home, 'run')).filter((d) => d !== 'ports') : [])

describe('bad options', () => {
  test('every problem is listed in one ClusterConfigError and nothing is started', async () => {
    const err = await startCluster({
      home,
      nvm: 0,
      nrouters: 21,
      ntesters: -1,
      nets: { 3: [1, 2], 4: [0, 300] },
      mem: 64,
      overlays: ['/nonexistent/overlay'],
      kernel: '/nonexistent/vmlinuz',
      modules: '/nonexistent/modules',
      bogus: true,
    } as never).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClusterConfigError)
    const problems = (err as ClusterConfigError).problems.join('\n')
    for (const want of [
      'Expected `nvm` to be an integer 1-200, got `0`',
      'Expected `nrouters` to be an integer 0-20, got `21`',
      'Expected `ntesters` to be an integer 0-20, got `-1`',
      '`nets[3]` must start with net 0',
      'Expected every net in `nets[4]` to be an integer 0-254, got `300`',
      'Expected `mem` to be an integer 80-16384, got `64` (this kernel does not boot with less than 80 MiB)',
      'Overlay /nonexistent/overlay (in `overlays`) does not exist',
      'Kernel /nonexistent/vmlinuz does not exist',
      'Modules directory /nonexistent/modules does not exist',
      'Unknown option `bogus`',
    ]) {
      expect(problems).toContain(want)
    }
    expect((err as Error).message).toMatch(/^Invalid cluster options \(1\d problems\):/)
    expect(runEntries()).toEqual([])
  })

  test('QEMU missing from PATH is a listed problem that says how to install it', async () => {
    const path = process.env.PATH
    process.env.PATH = '/nonexistent'
    try {
      const err = await startCluster({ home, nvm: 1, nrouters: 0 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ClusterConfigError)
      expect((err as ClusterConfigError).problems).toContain(
        'qemu-system-x86_64 is not installed (not on PATH). Run `npm run setup`, or as root: apt-get install qemu-system-x86',
      )
    } finally {
      process.env.PATH = path
    }
    expect(runEntries()).toEqual([])
  })

  test('no image in XCLUSTER_HOME says to run setup', async () => {
    const empty = privateHome()
    try {
      const err = await startCluster({ home: join(empty.home, 'nothing-here'), nvm: 1 }).catch((e: unknown) => e)
      expect((err as ClusterConfigError).problems.join('\n')).toMatch(/No VM image in .*nothing-here\/image\. Run `npm run setup` first/)
    } finally {
      await empty.remove()
    }
  })
})

describe('rights', () => {
  test("bridge mode with rootless: false, without root or CAP_NET_ADMIN, fails at once with PermissionError naming network: 'user'", async () => {
    const script = fileURLToPath(new URL('./helpers/start-bridge.ts', import.meta.url))
    const root = fileURLToPath(new URL('..', import.meta.url))
    const child = [process.execPath, '--import', 'tsx', script, home, JSON.stringify({ rootless: false })]
    // With the rights (root), setpriv drops to nobody with no capabilities; the child reports
    // what startCluster threw. A checkout nobody cannot read (a clone in a 0700 home or
    // mktemp -d) gets root without CAP_NET_ADMIN instead: the same check of rights, by a
    // process that can load the code. Without the rights the child runs as this user, who
    // lacks them already (and may not use setpriv to change user).
    let command: string[] = child
    if (canRootBridge) {
      const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups']
      const readable = (await execa('setpriv', [...nobody, 'cat', join(root, 'package.json'), script], { reject: false, stdout: 'ignore' })).exitCode === 0
      const drop = readable ? [...nobody, '--inh-caps=-all'] : ['--inh-caps=-all', '--bounding-set=-net_admin']
      command = ['setpriv', ...drop, ...child]
    }
    const r = await execa(command[0], command.slice(1), {
      reject: false,
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { HOME: '/tmp' },
    })
    const out = JSON.parse(r.stdout) as { name: string; problems: string[]; message: string }
    expect(out.name).toBe('PermissionError')
    expect(out.message).toContain("network: 'bridge' with `rootless: false` needs root or CAP_NET_ADMIN")
    expect(out.message).toContain('drop `rootless: false`')
    expect(out.message).toContain("use network: 'user', which needs no rights")
    expect(runEntries()).toEqual([])
    expect(PermissionError.prototype).toBeInstanceOf(ClusterConfigError)
  })
})

describe('rights, rootless', () => {
  // A user namespace whose own user.max_user_namespaces is 0: in it no
  // further user namespace can be made (ENOSPC), as on a host whose sysctl
  // forbids them; the machine's own setting is not touched.
  test('rootless bridge mode where user namespaces cannot be made is a PermissionError that says so, names the sysctl, and starts nothing', async () => {
    const script = fileURLToPath(new URL('./helpers/start-bridge.ts', import.meta.url))
    const inner = `echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" --import tsx "$@"`
    const r = await execa('unshare', ['--user', '--map-root-user', 'sh', '-c', inner, process.execPath, script, home, JSON.stringify({ rootless: true })], {
      reject: false,
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    })
    const out = JSON.parse(r.stdout) as { name: string; problems: string[]; message: string }
    expect(out.name).toBe('PermissionError')
    expect(out.message).toContain('does not let this user make user namespaces')
    expect(out.message).toContain('sysctl -w user.max_user_namespaces=')
    expect(out.message).not.toContain('/dev/net/tun')
    expect(runEntries()).toEqual([])
  })
})

describe('boot failures', () => {
  test('a VM whose kernel panics fails startCluster with VmBootError and its console tail; nothing is left', async () => {
    const ids = watchClusterIds(home)
    const err = await startCluster({ home, nvm: 2, nrouters: 0, appendVm: { 2: 'rdinit=/nonexistent' } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VmBootError)
    expect((err as VmBootError).vm).toBe('vm-002')
    expect((err as VmBootError).consoleTail).toMatch(/Kernel panic|No working init found/)
    expect((err as Error).message).toContain('--- console of vm-002')
    const seen = ids()
    expect(seen.size).toBe(1)
    expect(await leftovers(home, seen)).toEqual([])
  })

  test('a VM that does not answer in time fails with VmBootError naming the bound', async () => {
    const ids = watchClusterIds(home)
    const err = await startCluster({ home, nvm: 1, nrouters: 0, bootTimeout: 300 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VmBootError)
    expect((err as Error).message).toMatch(/vm-001 did not boot: no telnet shell within \d+ s/)
    expect(await leftovers(home, ids())).toEqual([])
  })
})

describe('net-setup hooks', () => {
  for (const network of ['user', 'bridge'] as const) {
    // Bridge base without root or CAP_NET_ADMIN: skipped, the name says why (the start would stop at the rights).
    const skip = network === 'bridge' && !canBridge
    test.skipIf(skip)(skippedBecause(`a net-setup script that exits non-zero is one error naming VM, net and stderr (${network}); nothing is left`, skip), async () => {
      const ids = watchClusterIds(home)
      const err = await startCluster({ home, nvm: 1, nrouters: 0, network: { base: network, netSetup: NET_SETUP_FAILING } }).catch(
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(HostCommandError)
      expect((err as Error).message).toContain(`net-setup script ${NET_SETUP_FAILING} failed for vm-001 net 0 (exit 3)`)
      expect((err as Error).message).toContain('net-setup-failing: no switch for vm 1 net 0')
      expect(await leftovers(home, ids())).toEqual([])
    })
  }

  test('a net-setup function gets the context and may leave NICs to the base backend', async () => {
    const calls: string[] = []
    const cluster = await startCluster({
      home,
      nvm: 1,
      nrouters: 0,
      network: {
        base: 'user',
        netSetup: (vm, net, ctx) => {
          calls.push(`${vm}/${net} ${ctx.mac} ${ctx.nicId} telnet=${ctx.telnetPort} base=${ctx.telnetBase} ${ctx.stateDir === '' ? '' : 'dir'}`)
          return undefined
        },
      },
    })
    try {
      expect(await cluster.vm(1).run('hostname')).toBe('vm-001\n')
      const base = cluster.plan.allocation.telnetBase
      expect(calls).toEqual([`1/0 00:00:00:01:00:01 n0 telnet=${base + 1} base=${base} dir`, `1/1 00:00:00:01:01:01 n1 telnet=${base + 1} base=${base} dir`])
    } finally {
      await cluster.stop()
    }
    expect(await leftovers(home, [cluster.id])).toEqual([])
  })
})
