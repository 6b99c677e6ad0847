// Clusters from snapshots, on real VMs in both modes: the first start of a
// configuration boots cold and saves, the next one restores; after a
// restore each VM is itself (names, MACs, addresses), has the host's clock,
// draws its own random bytes, is on every net, answers ssh with this
// cluster's key, and its control channel works; restore() undoes a test's
// changes. A changed overlay is a new key (a cold boot); a corrupt or
// missing state file is a cold boot that says so once. The snapshots live
// in a private home, removed afterwards.
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { SnapshotError, startCluster, type RunningCluster } from '../src/index.ts'
import { readSecret } from '../src/host/state-dir.ts'
import { vmLoginKey } from '../src/control/login.ts'
import { listSnapshots, stateFile } from '../src/cluster/snapshot/store.ts'
import { leftovers, privateHome } from './helpers/host.ts'
import { canBridge, skippedBecause } from './helpers/rights.ts'

const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
let home: string
let remove: () => Promise<void>
beforeAll(() => ({ home, remove } = privateHome()))
afterAll(() => remove())

/** 16 random bytes drawn in `vm`, as hex. */
const draw = async (c: RunningCluster, vm: number): Promise<string> => (await c.vm(vm).run('head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"')).trim()

for (const network of ['user', 'bridge'] as const) {
  const skip = network === 'bridge' && !canBridge
  describe.skipIf(skip)(skippedBecause(`${network} mode`, skip), () => {
    const options = () => ({ home, name: `snap-${network}`, network, nvm: 2, nrouters: 1, tools: true, stdAddresses: true, snapshot: true })
    let first: RunningCluster
    let second: RunningCluster
    let firstSecret = ''
    let firstConsole = ''
    let coldMs = 0
    let restoredMs = 0
    beforeAll(async () => {
      let t0 = Date.now()
      first = await startCluster(options())
      coldMs = Date.now() - t0
      firstSecret = readSecret(first.stateDir)
      firstConsole = first.vm(1).console()
      await first.stop()
      t0 = Date.now()
      second = await startCluster(options())
      restoredMs = Date.now() - t0
    })
    afterAll(async () => {
      await first?.stop()
      await second?.stop()
    })

    test('the first start boots cold and saves the snapshot; the second, of the same options, restores from it', () => {
      console.log(`[${network}] 3 VMs: cold start with the save ${coldMs} ms, start from the snapshot ${restoredMs} ms`)
      expect(first.snapshot).toMatchObject({ saved: true, restored: false })
      expect(second.snapshot).toMatchObject({ saved: false, restored: true, key: first.snapshot!.key })
      expect(second.snapshot!.fellBack).toBeUndefined()
      // A restored guest's console starts empty: it did not boot (a cold boot's has the boot script's markers).
      expect(second.vm(1).console()).not.toContain('xc-phase: init')
      expect(firstConsole).toContain('xc-phase: init')
      expect(first.id).not.toBe(second.id)
    })

    test("each VM is itself: hostname, the MAC and addresses of every NIC, and this cluster's id", async () => {
      for (const vm of second.vms) {
        expect(await vm.run('hostname')).toBe(`${vm.name}\n`)
        for (const nic of vm.nics) {
          expect(await vm.run(`cat /sys/class/net/${nic.ifname}/address`)).toBe(`${nic.mac}\n`)
          expect(await vm.run(`ip -4 -o addr show ${nic.ifname}`)).toContain(`${nic.ipv4}/24`)
        }
        expect(await vm.run('. /etc/xcluster/cluster.env; echo $XCLUSTER_ID')).toBe(`${second.id}\n`)
      }
    })

    test("the guest's clock is the host's (within 2 s), also 5 s after the save", async () => {
      // A restored guest's clock goes on from the moment of the save unless it is set: 5 s later the difference would show.
      await new Promise((r) => setTimeout(r, 5000))
      await second.restore()
      const guest = Number(await second.vm(1).run('date +%s'))
      expect(Math.abs(guest - Date.now() / 1000)).toBeLessThanOrEqual(2)
    })

    test('every net works: vm-001 reaches vm-002 and the router on nets 0 and 1, IPv4 and IPv6; the host side reaches them', async () => {
      for (const addr of ['192.168.1.2', '1000::1:192.168.1.2', '192.168.1.201']) expect(await second.vm(1).ping(addr, 3), addr).toBe(true)
      if (network === 'bridge') {
        expect(await second.vm(1).ping('192.168.0.2', 3)).toBe(true)
        const r = await second.hostExec(['busybox', 'ping', '-c1', '-W3', '192.168.0.201'])
        expect(r.exitCode, r.stdout + r.stderr).toBe(0)
      } else {
        // User mode: net 0 is each VM's own slirp, and its host alias answers.
        expect(await second.vm(1).ping('192.168.0.250', 3)).toBe(true)
      }
    })

    test("the secret and the ssh keys are this cluster's, not the snapshot's: telnet and ssh work with them", async () => {
      const secret = readSecret(second.stateDir)
      expect(secret).not.toBe(firstSecret)
      // The VM holds its login key under this cluster's secret, and no secret at all.
      expect((await second.vm(2).run('cat /etc/xcluster/key')).trim()).toBe(vmLoginKey(secret, 'vm-002'))
      expect((await second.vm(2).exec('test -e /etc/xcluster/secret')).exitCode).not.toBe(0)
      const ssh = await second.vm(2).ssh()
      expect((await ssh.exec('hostname')).stdout).toBe('vm-002\n')
      const pub = readFileSync(join(second.stateDir, 'id_ed25519.pub'), 'utf8').trim()
      expect((await second.vm(2).run('cat /root/.ssh/authorized_keys')).trim()).toBe(pub)
    })

    // Measured: with the re-key's reseed taken out this test still passed. The snapshots here are taken at
    // an uptime of about 2 s, when the kernel reseeds its CRNG itself at most 1 s after the last reseed;
    // xc-reseed is for a snapshot saved late (a 60 s interval), which no test here waits for. What is
    // checked of it: the re-key ran it (a failure fails the restore) and emptied the seed file after.
    test('randomness: every restore draws other bytes; the re-key fed the host seed and emptied its file', async () => {
      const seen = new Set<string>([await draw(second, 1), await draw(second, 2)])
      await second.restore()
      seen.add(await draw(second, 1))
      seen.add(await draw(second, 2))
      await second.restore()
      seen.add(await draw(second, 1))
      expect(seen.size).toBe(5)
      expect(await second.vm(1).run('wc -c < /run/.xc-seed')).toBe('0\n')
    })

    test("restore() undoes a test's changes; the handles and their channels keep working", async () => {
      await second.vm(1).run('echo changed > /root/mark && ip addr add 10.9.9.9/32 dev lo')
      const t0 = Date.now()
      await second.restore()
      console.log(`[${network}] restore() of 3 VMs: ${Date.now() - t0} ms`)
      expect((await second.vm(1).exec('cat /root/mark')).exitCode).not.toBe(0)
      expect(await second.vm(1).run('ip -4 -o addr show dev lo')).not.toContain('10.9.9.9')
      expect(await second.vm(1).ping('192.168.1.2', 3)).toBe(true)
      expect((await (await second.vm(2).ssh()).exec('hostname')).stdout).toBe('vm-002\n')
    })

    test('stop leaves nothing of either cluster', async () => {
      const ids = [first.id, second.id]
      await second.stop()
      expect(await leftovers(home, ids)).toEqual([])
    })
  })
}

describe.skipIf(!canBridge)(skippedBecause('hosts joined by VXLAN', !canBridge), () => {
  test('a cluster across two simulated hosts restores, and its VMs reach each other across them with a full-size ping', async () => {
    const options = { home, name: 'snap-hosts', network: 'bridge' as const, nvm: 2, nrouters: 0, tools: true, stdAddresses: true, snapshot: true, hosts: { a: [1], b: [2] } }
    const a = await startCluster(options)
    await a.stop()
    const b = await startCluster(options)
    try {
      expect(b.snapshot?.restored).toBe(true)
      const r = await b.vm(1).exec('ping -c 2 -W 3 -M do -s 1472 192.168.1.2')
      expect(r.exitCode, r.stdout + r.stderr).toBe(0)
      expect(await b.vm(2).ping('192.168.0.1', 3)).toBe(true)
    } finally {
      await b.stop()
    }
  })
})

describe('stale and broken snapshots', () => {
  let ovl: string
  beforeAll(() => {
    ovl = mkdtempSync(join(tmpdir(), 'xc-snap-ovl-'))
    mkdirSync(join(ovl, 'etc'))
    writeFileSync(join(ovl, 'etc', 'note'), 'one\n')
  })
  afterAll(() => rmSync(ovl, { recursive: true, force: true }))
  const options = () => ({ home, name: 'snap-stale', nvm: 1, nrouters: 0, snapshot: true, overlays: [ovl] })

  test("a changed overlay file is a new key: the next start boots cold and sees the new file", async () => {
    const a = await startCluster(options())
    const keyA = a.snapshot!.key
    await a.stop()
    writeFileSync(join(ovl, 'etc', 'note'), 'two\n')
    const b = await startCluster(options())
    try {
      expect(b.snapshot).toMatchObject({ saved: true, restored: false })
      expect(b.snapshot!.key).not.toBe(keyA)
      expect(await b.vm(1).run('cat /etc/note')).toBe('two\n')
    } finally {
      await b.stop()
    }
  })

  for (const [damage, network] of [['corrupt', 'user'], ['missing', 'user'], ['corrupt', 'bridge']] as const) {
    const skip = network === 'bridge' && !canBridge
    test.skipIf(skip)(skippedBecause(`a ${damage} state file (${network} mode): the start boots that VM cold (its taps made anew in bridge mode), says so once, works, and saves the snapshot again`, skip), async () => {
      const options = () => ({ home, name: `snap-stale-${network}`, network, nvm: 1, nrouters: 0, snapshot: true, overlays: [ovl] })
      const c0 = await startCluster(options())
      const dir = c0.snapshot!.dir!
      await c0.stop()
      const file = stateFile(dir, 'vm-001')
      if (damage === 'corrupt') truncateSync(file, 4096)
      else rmSync(file)
      const said = vi.spyOn(process.stderr, 'write')
      const c1 = await startCluster(options())
      try {
        const lines = said.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('did not restore'))
        expect(lines).toHaveLength(1)
        expect(lines[0]).toContain('booting cold what did not, and saving it again')
        expect(c1.snapshot).toMatchObject({ saved: true })
        expect(c1.snapshot!.fellBack).toBeDefined()
        expect(await c1.vm(1).run('cat /etc/note')).toBe('two\n')
      } finally {
        said.mockRestore()
        await c1.stop()
      }
      // Saved again: the next start restores.
      const c2 = await startCluster(options())
      try {
        expect(c2.snapshot).toMatchObject({ restored: true })
      } finally {
        await c2.stop()
      }
    })
  }

  test('a save that fails leaves the cluster running without a snapshot, says so, and restore() says why it cannot', async () => {
    const other = privateHome()
    // Where the snapshots would go there is a file: the save cannot make its directory.
    writeFileSync(join(other.home, 'snapshots'), 'not a directory\n')
    const said = vi.spyOn(process.stderr, 'write')
    try {
      const c = await startCluster({ home: other.home, name: 'snap-nosave', nvm: 1, nrouters: 0, snapshot: true })
      try {
        expect(said.mock.calls.map((x) => String(x[0])).filter((l) => l.includes('could not be saved'))).toHaveLength(1)
        expect(c.snapshot).toMatchObject({ saved: false, restored: false })
        expect(c.snapshot!.saveFailed).toBeDefined()
        expect(await c.vm(1).run('hostname')).toBe('vm-001\n')
        const err = await c.restore().catch((e: unknown) => e)
        expect(err).toBeInstanceOf(SnapshotError)
        expect(err).toMatchObject({ step: 'restore', vm: undefined })
        expect((err as Error).message).toContain(c.snapshot!.saveFailed)
      } finally {
        await c.stop()
      }
    } finally {
      said.mockRestore()
      await other.remove()
    }
  })

  test('xc snapshot list, rm and prune', async () => {
    const env = { ...process.env, XCLUSTER_HOME: home }
    const list = await execa(process.execPath, [XC, 'snapshot', 'list', '--json'], { env })
    const all = JSON.parse(list.stdout) as Array<{ key: string; secret?: string }>
    expect(all.length).toBe(listSnapshots(home).length)
    expect(all.length).toBeGreaterThan(1)
    expect(all.every((s) => s.secret === undefined)).toBe(true)
    const rm = await execa(process.execPath, [XC, 'snapshot', 'rm', all[0].key.slice(0, 10)], { env })
    expect(rm.stdout).toBe(`removed ${all[0].key}`)
    expect(existsSync(join(home, 'snapshots', all[0].key))).toBe(false)
    const prune = await execa(process.execPath, [XC, 'snapshot', 'prune', '--max-mb=0'], { env })
    expect(prune.stdout.split('\n')).toHaveLength(all.length - 1)
    expect(listSnapshots(home)).toEqual([])
    const bad = await execa(process.execPath, [XC, 'snapshot', 'rm', 'nosuchkey'], { env, reject: false })
    expect(bad.exitCode).toBe(1)
    expect(bad.stderr).toContain('no single snapshot with key nosuchkey')
  })
})
