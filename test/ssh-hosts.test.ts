// A cluster across ssh hosts (three, then two), tested against simulated hosts that are real
// sshd servers (test/helpers/ssh-lab.ts): each a namespace with its own
// address, host key and authorized key, reached by the harness only over
// ssh. The VMs, bridges, taps and VXLAN devices of each host are made there
// over ssh; a host's sshd killed during a run is a HostLostError naming it,
// with nothing left on the other host, and what the lost host recorded is
// removed by cleanup once its sshd answers again.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { execa, execaSync } from 'execa'
import { ClusterConfigError, HostCheckError, HostLostError, startCluster, waitUntil, type RunningCluster, type SshHostOptions } from '../src/index.ts'
import { cleanupDeadClusters } from '../src/host/cleanup.ts'
import { xclusterHome } from '../src/host/home.ts'
import { listStates, StateDir } from '../src/host/state-dir.ts'
import { canRootBridge, skippedBecause } from './helpers/rights.ts'
import { SSHD, SshLab } from './helpers/ssh-lab.ts'

const can = canRootBridge && existsSync(SSHD)
const WHY = !canRootBridge ? 'needs root (the simulated hosts are namespaces with their own sshd, and the VMs run there as root)' : `needs Debian's openssh-server (${SSHD}; npm run setup installs it)`
const home = xclusterHome()
const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
const CHILD = fileURLToPath(new URL('./helpers/start-and-wait.ts', import.meta.url))

/** Where a lying host would make a file on its peers (they share this machine's files), were its word pasted into their scripts. */
const PWNED = `/tmp/xc-pwned-${process.pid}`
/** Host d lies in every session: its SSH_CONNECTION says its address is a shell command. */
const LIE = join(mkdtempSync(join(tmpdir(), 'xc-lie-')), 'lie.sh')
writeFileSync(LIE, `#!/bin/sh\nSSH_CONNECTION='198.18.0.1 22 10.0.0.9;touch\${IFS}${PWNED} 22'\nexport SSH_CONNECTION\nexec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n`, { mode: 0o755 })

describe.skipIf(!can)(skippedBecause('hosts over ssh', !can, WHY), () => {
  let lab: SshLab
  beforeAll(async () => {
    lab = await SshLab.make(['a', 'b', 'c', 'd'], { d: [`ForceCommand ${LIE}`] })
  }, 60_000)
  afterAll(async () => {
    await lab?.teardown()
    rmSync(dirname(LIE), { recursive: true, force: true })
  })

  /** The `hosts` of a two-host cluster: vm-001 on lab host a, vm-002 on b. */
  const aAndB = (): { a: SshHostOptions; b: SshHostOptions } => ({ a: { ...lab.host('a').options, vms: [1] }, b: { ...lab.host('b').options, vms: [2] } })

  /** True while `pid` runs (a zombie does not: on this machine pid 1 does not reap what is reparented to it). */
  const running = (pid: number): boolean => {
    try {
      return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')
    } catch {
      return false
    }
  }

  /** Everything cluster `id` made on lab host `name`: its namespace, processes naming its directory there, the directory. */
  const leftOn = (name: string, id: string): string[] => {
    const h = lab.host(name)
    const dir = join(h.dir, 'run', `${id}-${name}`)
    return [
      ...(existsSync(`/run/netns/xc-${id}-${name}`) ? [`namespace xc-${id}-${name}`] : []),
      ...SshLab.processesNaming(dir).map((p) => `process ${p}`),
      ...(existsSync(dir) ? [`directory ${dir}`] : []),
    ]
  }

  test('bad options and unusable hosts are one error listing every problem, and nothing starts', async () => {
    const before = listStates(home).length
    await expect(startCluster({ network: 'user', hosts: { a: { ssh: 'nobody', port: 0 }, b: { ssh: 'root@x', key: '/no/such/key', vms: [9] } } as never })).rejects.toSatisfy((e: ClusterConfigError) => {
      expect(e).toBeInstanceOf(ClusterConfigError)
      expect(e.problems.join('\n')).toMatch(/hosts.a.ssh` to be 'user@address'/)
      expect(e.problems.join('\n')).toMatch(/hosts.a.port` to be a TCP port/)
      expect(e.problems.join('\n')).toMatch(/no file \/no\/such\/key/)
      expect(e.problems.join('\n')).toMatch(/lists vm-009, which is not in the cluster/)
      expect(e.problems.join('\n')).toMatch(/need network: 'bridge'/)
      return true
    })
    // Host a's key is not known (an empty known_hosts); host b does not let this key in; host c has no sshd on that port.
    const empty = join(lab.tmp, 'empty_known_hosts')
    writeFileSync(empty, '')
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(lab.tmp, 'stranger')])
    const a = lab.host('a').options
    const b = lab.host('b').options
    const err = await startCluster({
      name: 'ssh-bad', network: 'bridge', nvm: 2, nrouters: 0,
      hosts: { a: { ...a, knownHosts: empty }, b: { ...b, key: join(lab.tmp, 'stranger') }, c: { ...a, port: 2222 } },
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(HostCheckError)
    const problems = (err as HostCheckError).problems
    expect(problems, problems.join('\n')).toHaveLength(3)
    expect(problems[0]).toMatch(new RegExp(`^host a \\(root@${lab.host('a').address}\\): cannot log in: the host key of .* \\(ssh-ed25519 SHA256:\\S+\\) is not in ${empty}: .*ssh-keyscan`))
    expect(problems[1]).toMatch(/^host b .*: cannot log in: root was not let in with the key .*stranger/)
    expect(problems[2]).toMatch(/^host c .*:2222\): cannot log in: .*ECONNREFUSED/)
    expect(listStates(home).length).toBe(before)
  }, 60_000)

  test('a host that lies in its probe: a HostCheckError names it and what it said, and nothing of its word runs anywhere', async () => {
    const before = listStates(home).length
    const err = await startCluster({ name: 'ssh-lie', network: 'bridge', nvm: 2, nrouters: 0, hosts: { a: { ...lab.host('a').options, vms: [1] }, d: { ...lab.host('d').options, vms: [2] } } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(HostCheckError)
    const problems = (err as HostCheckError).problems
    expect(problems, problems.join('\n')).toEqual([expect.stringMatching(new RegExp(`^host d \\(root@${lab.host('d').address}\\): its address .* is not an IP address: "10\\.0\\.0\\.9;touch\\$\\{IFS\\}${PWNED}"`))])
    // Its peer a was never given the word (the MTU script would have run it there), and nothing was made on either.
    expect(existsSync(PWNED)).toBe(false)
    expect(listStates(home).length).toBe(before)
    expect((await execa('ip', ['netns', 'list'])).stdout).not.toMatch(/^xc-[0-9a-f]{8}-[ad]\b/m)
  }, 60_000)

  test("a host's directory made first by another user of that host: refused, naming it and its owner; nothing starts", async () => {
    const squat = mkdtempSync(join(tmpdir(), 'xc-squat-'))
    try {
      chownSync(squat, 65534, 65534)
      const before = listStates(home).length
      const err = await startCluster({ name: 'ssh-squat', network: 'bridge', nvm: 1, nrouters: 0, hosts: { a: { ...lab.host('a').options, dir: join(squat, 'xc') } } }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(HostCheckError)
      expect((err as HostCheckError).problems).toEqual([expect.stringMatching(new RegExp(`^host a .*: its directory ${squat}/xc cannot be used: ${squat}: belongs to uid 65534, not root`))])
      expect(readdirSync(squat)).toEqual([])
      expect(listStates(home).length).toBe(before)
    } finally {
      rmSync(squat, { recursive: true, force: true })
    }
  }, 60_000)

  test("a file planted in a host's cache under the kernel's name is not booted: its hash is checked, and it is copied again", async () => {
    const kernel = join(home, 'image', 'vmlinux')
    const sha = createHash('sha256').update(readFileSync(kernel)).digest('hex')
    const cache = join(lab.host('c').dir, 'cache')
    mkdirSync(cache, { recursive: true, mode: 0o700 })
    const planted = join(cache, `${sha.slice(0, 20)}-vmlinux`)
    writeFileSync(planted, 'not a kernel\n', { mode: 0o600 })
    const cluster = await startCluster({ name: 'ssh-planted', network: 'bridge', nvm: 1, nrouters: 0, hosts: { c: lab.host('c').options } })
    try {
      expect(await cluster.vm(1).run('hostname')).toBe('vm-001\n')
      expect(createHash('sha256').update(readFileSync(planted)).digest('hex')).toBe(sha)
    } finally {
      await cluster.stop()
    }
  }, 120_000)

  describe('a cluster on three ssh hosts', () => {
    let cluster: RunningCluster
    let id: string
    beforeAll(async () => {
      // vm-001 is given to host a; vm-002 and vm-201 are placed by the hosts' cores and memory (equal here: to the hosts with fewest VMs, b then c).
      cluster = await startCluster({
        name: 'ssh-three', network: 'bridge', nvm: 2, nrouters: 1, tools: true, stdAddresses: true,
        hosts: { a: { ...lab.host('a').options, vms: [1] }, b: lab.host('b').options, c: lab.host('c').options },
      })
      id = cluster.id
    }, 240_000)
    afterAll(async () => {
      await cluster?.stop()
    })

    test('each VM runs on its host: QEMU under that host\'s sshd, in that host\'s cluster namespace, with the image copied there', () => {
      for (const [vm, name] of [[1, 'a'], [2, 'b'], [201, 'c']] as const) {
        const rec = cluster.vm(vm).record
        expect(rec.host).toBe(name)
        const pid = rec.process!.pid
        // The pid is the host's; here the simulated host shares this kernel, so its ancestry and namespace can be read.
        let p = pid
        const chain: string[] = []
        while (p > 1) {
          const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
          p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
          chain.push(String(p))
        }
        expect(chain).toContain(String(lab.host(name).sshdPid))
        expect(execaSync('ip', ['netns', 'identify', String(pid)]).stdout.trim()).toBe(`xc-${id}-${name}`)
        const cache = readdirSync(join(lab.host(name).dir, 'cache'))
        expect(cache.some((f) => /^[0-9a-f]{20}-vmlinu/.test(f)), cache.join(' ')).toBe(true)
        expect(cache.some((f) => /^[0-9a-f]{20}-tools\.ext4$/.test(f)), cache.join(' ')).toBe(true)
      }
      expect(Object.keys(cluster.state.state.remoteHosts ?? {})).toEqual(['a', 'b', 'c'])
    })

    test('vm-001 on a reaches vm-002 on b and vm-201 on c on nets 0 and 1, with full-size do-not-fragment pings', async () => {
      for (const addr of ['192.168.0.2', '192.168.1.2', '192.168.0.201', '192.168.1.201']) {
        const r = await cluster.vm(1).exec(`ping -c 2 -W 3 -M do -s 1472 ${addr}`)
        expect(r.exitCode, r.stdout + r.stderr).toBe(0)
        expect(r.stdout).toContain(`1480 bytes from ${addr}`)
      }
      for (const [from, to] of [[2, '192.168.1.1'], [2, '192.168.1.201'], [201, '192.168.0.1']] as const) {
        const back = await cluster.vm(from).exec(`ping -c 1 -W 3 -M do -s 1472 ${to}`)
        expect(back.exitCode, `vm ${from} to ${to}: ${back.stdout}${back.stderr}`).toBe(0)
      }
      // IPv6 crosses too (the std addresses on net 1).
      expect(await cluster.vm(1).ping('1000::1:192.168.1.2', 3)).toBe(true)
      expect(await cluster.vm(1).ping('1000::1:192.168.1.201', 3)).toBe(true)
      // One byte more does not fit the nets' MTU: the pings above were full-size.
      expect((await cluster.vm(1).exec('ping -c 1 -W 2 -M do -s 1473 192.168.1.2')).exitCode).not.toBe(0)
    })

    test('the traffic between the hosts is VXLAN on the hosts\' own network', async () => {
      const rx = async (): Promise<number> => {
        const [l] = JSON.parse((await execa('ip', ['-s', '-j', 'link', 'show', lab.host('b').veth])).stdout) as Array<{ stats64: { tx: { bytes: number } } }>
        return l.stats64.tx.bytes
      }
      const before = await rx()
      expect(await cluster.vm(1).run('ping -c 5 -i 0.2 -s 1000 192.168.1.2')).toContain('5 received')
      expect((await rx()) - before).toBeGreaterThan(5 * 1000)
      const links = (await execa('ip', ['-n', `xc-${id}-b`, '-d', 'link', 'show', `xc${id}v1`])).stdout
      expect(links).toMatch(/vxlan id \d+ .*local 198\.18\.\d+\.2 .*dstport 4789/)
    })

    test('only the cluster\'s peers may send it VXLAN, and learning is off', async () => {
      const vni = (JSON.parse((await execa('ip', ['-n', `xc-${id}-a`, '-d', '-j', 'link', 'show', `xc${id}v1`])).stdout) as Array<{ linkinfo: { info_data: { id: number; learning: boolean } } }>)[0].linkinfo.info_data
      expect(vni.learning).toBe(false)
      // A VXLAN frame on net 1 with an ARP request from 192.168.1.99 (MAC 02:00:00:00:00:99) for vm-001's address.
      const send = (ns?: string): Promise<unknown> => execa(ns ? 'ip' : 'python3', [...(ns ? ['netns', 'exec', ns, 'python3'] : []), '-c', `
import socket, struct
vxlan = struct.pack('!B3xI', 8, ${vni.id} << 8)
mac = bytes.fromhex('020000000099')
arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, mac, socket.inet_aton('192.168.1.99'), bytes(6), socket.inet_aton('192.168.1.1'))
frame = b'\\xff' * 6 + mac + b'\\x08\\x06' + arp
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3): s.sendto(vxlan + frame, ('${lab.host('a').address}', 4789))
`])
      const dropped = async (): Promise<number> => Number(/counter packets (\d+)/.exec((await execa('ip', ['netns', 'exec', lab.host('a').ns, 'nft', 'list', 'table', 'inet', `xc_${id}`])).stdout)?.[1] ?? -1)
      const neigh = async (): Promise<string> => cluster.vm(1).run('ip neigh show 192.168.1.99')
      // From this machine's address on the lab network, not a peer: dropped and counted; vm-001 never sees it.
      const before = await dropped()
      await send()
      await new Promise((r) => setTimeout(r, 500))
      expect(await dropped()).toBe(before + 3)
      expect(await neigh()).toBe('')
      // The same frame from host b, a peer: delivered (the control), and vm-001 learns the neighbour.
      await send(lab.host('b').ns)
      await cluster.vm(1).waitUntil(async () => expect(await neigh()).toContain('02:00:00:00:00:99'), { what: 'the neighbour learnt from host b', timeout: 5000, interval: 200 })
      await cluster.vm(1).run('ip neigh del 192.168.1.99 dev eth1')
    })

    test('the host side (192.168.0.250 on host a) reaches vm-002 on host b', async () => {
      const r = await cluster.hostExec(['ping', '-c1', '-W3', '192.168.0.2'])
      expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    })

    test('scale-out: vm-003 boots on the first host from the grown initramfs, and reaches vm-002 on b; scale-in removes it there', async () => {
      const [vm3] = await cluster.scaleOut([3])
      expect(vm3.record.host).toBe('a')
      // The grown plan's /etc/hosts names vm-003: it booted from the initramfs written for it, not the first one.
      expect(await vm3.run('grep -c vm-003 /etc/hosts')).not.toBe('0\n')
      expect((await vm3.exec('ping -c1 -W3 -M do -s 1472 192.168.1.2')).exitCode).toBe(0)
      const pid = vm3.record.process!.pid
      await cluster.scaleIn([3])
      expect(running(pid)).toBe(false)
      expect((await execa('ip', ['-n', `xc-${id}-a`, '-br', 'link'])).stdout).not.toMatch(/^t3n0/m)
    })

    test('stop leaves nothing on either host, and no state here', async () => {
      const dir = cluster.stateDir
      await cluster.stop()
      for (const h of ['a', 'b', 'c']) expect(leftOn(h, id)).toEqual([])
      expect(existsSync(dir)).toBe(false)
    })
  })

  test('a host whose sshd is killed during a run: HostLostError naming it, nothing left on the other host, and cleanup removes the rest once it answers again', async () => {
    const cluster = await startCluster({ name: 'ssh-lost', network: 'bridge', nvm: 2, nrouters: 0, hosts: aAndB() })
    const id = cluster.id
    const stateDir = cluster.stateDir
    try {
      expect((await cluster.vm(1).exec('ping -c1 -W3 192.168.0.2')).exitCode).toBe(0)
      await lab.killSshd('b')
      // A wait ends at once on an error of the harness: here the one to see.
      const err = await cluster.waitUntil(() => cluster.vm(1).exec('true').then(() => false), { what: 'host b lost', timeout: 30_000, interval: 200 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(HostLostError)
      expect((err as HostLostError).host).toBe('b')
      expect((err as Error).message).toMatch(new RegExp(`host b \\(root@${lab.host('b').address}\\) of cluster ssh-lost was lost: .*stays recorded in ${stateDir}.*xc cleanup`))
      // Host a's VMs and network go at once, without a stop.
      await waitUntil(() => expect(leftOn('a', id)).toEqual([]), { what: "nothing of the cluster left on host a", timeout: 30_000, interval: 200 })
      await expect(cluster.vm(2).exec('true')).rejects.toBeInstanceOf(HostLostError)
      await cluster.stop()
      expect(leftOn('a', id)).toEqual([])
      // What b has stays recorded, for a cleanup once b answers.
      expect(existsSync(stateDir)).toBe(true)
      expect(Object.keys(cluster.state.state.remoteHosts ?? {})).toEqual(['b'])
      expect(leftOn('b', id)).toContain(`namespace xc-${id}-b`)
      const unreachable = (await cleanupDeadClusters(home, 'ssh-lost')).find((r) => r.id === id)
      expect(unreachable?.error).toMatch(/host b .*could not be removed/s)
      expect(existsSync(stateDir)).toBe(true)
      await lab.startSshd('b')
      const report = (await cleanupDeadClusters(home, 'ssh-lost')).find((r) => r.id === id)
      expect(report?.error).toBeUndefined()
      expect(report?.removed.join('\n')).toContain(`network namespace xc-${id}-b on host b`)
      expect(leftOn('b', id)).toEqual([])
      expect(existsSync(stateDir)).toBe(false)
    } finally {
      await cluster.stop().catch(() => {})
      if (!lab.host('b').sshdPid) await lab.startSshd('b')
      await cleanupDeadClusters(home, 'ssh-lost')
    }
  }, 240_000)

  test('a host whose network goes down during a run: HostLostError once its keepalives go unanswered; its VM runs on while it is cut off, and once it is reachable cleanup leaves nothing there', async () => {
    const cluster = await startCluster({ name: 'ssh-cut', network: 'bridge', nvm: 2, nrouters: 0, hosts: aAndB() })
    const id = cluster.id
    const stateDir = cluster.stateDir
    const veth = lab.host('b').veth
    try {
      const qemuB = cluster.vm(2).record.process!.pid
      await execa('ip', ['link', 'set', veth, 'down'])
      const err = await cluster.waitUntil(() => cluster.vm(1).exec('true', { timeout: 5000 }).then(() => false), { what: 'host b lost', timeout: 60_000, interval: 500 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(HostLostError)
      expect((err as HostLostError).host).toBe('b')
      expect((err as HostLostError).reason).toMatch(/keepalive/)
      await waitUntil(() => expect(leftOn('a', id)).toEqual([]), { what: "nothing of the cluster left on host a", timeout: 30_000, interval: 200 })
      await cluster.stop()
      // Cut off, b knows nothing of it: its QEMU still runs there.
      expect(running(qemuB)).toBe(true)
      expect(existsSync(stateDir)).toBe(true)
      await execa('ip', ['link', 'set', veth, 'up'])
      const report = (await cleanupDeadClusters(home, 'ssh-cut')).find((r) => r.id === id)
      expect(report?.error).toBeUndefined()
      // b's QEMU ends either way: killed by the cleanup, or by its own watchdog when b's sshd, hearing from this side again, drops the dead session first (seen under CI's load).
      expect(report?.removed.join('\n')).toContain(`network namespace xc-${id}-b on host b`)
      expect(running(qemuB)).toBe(false)
      expect(leftOn('b', id)).toEqual([])
      expect(existsSync(stateDir)).toBe(false)
    } finally {
      await execa('ip', ['link', 'set', veth, 'up'])
      await cluster.stop().catch(() => {})
      await cleanupDeadClusters(home, 'ssh-cut')
    }
  }, 240_000)

  test('xc start --hosts=FILE runs detached across the hosts; xc status, xc rsh and xc stop reach it there; nothing is left', async () => {
    const xc = (...args: string[]): Promise<{ stdout: string; stderr: string; exitCode?: number }> =>
      execa(process.execPath, [XC, ...args], { reject: false, timeout: 240_000, env: { ...process.env, XCLUSTER_HOME: home } })
    const file = join(lab.tmp, 'hosts.json')
    writeFileSync(file, JSON.stringify(aAndB()))
    const up = await xc('start', '--name=ssh-cli', '--network=bridge', '--nvm=2', '--nrouters=0', `--hosts=${file}`)
    expect(up.exitCode, up.stdout + up.stderr).toBe(0)
    expect(up.stdout).toMatch(/cluster ssh-cli \(([0-9a-f]{8})\) is up: vm-001 vm-002/)
    const id = /\(([0-9a-f]{8})\)/.exec(up.stdout)![1]
    try {
      // The start has exited; its QEMUs run on there (daemonized), each on its host.
      const st = await xc('status', '--name=ssh-cli')
      expect(st.stdout, st.stderr).toMatch(/vm-001 {2}alive {2}pid \d+ {2}host a /)
      expect(st.stdout).toMatch(/vm-002 {2}alive {2}pid \d+ {2}host b /)
      const rsh = await xc('rsh', '--name=ssh-cli', '1', 'ping -c1 -W3 192.168.0.2 >/dev/null && hostname')
      expect(rsh.exitCode, rsh.stdout + rsh.stderr).toBe(0)
      expect(rsh.stdout.trim()).toBe('vm-001')
      // What xc rsh ran there to follow the VMs (tail of the console, of the pid) ended with it: only QEMU names each host's directory.
      const pids = (JSON.parse((await xc('status', '--name=ssh-cli', '--json')).stdout) as { vms: Array<{ pid: number; host: string }> }).vms
      for (const v of pids) {
        const dir = join(lab.host(v.host).dir, 'run', `${id}-${v.host}`)
        await waitUntil(() => expect(SshLab.processesNaming(dir).join()).toBe(String(v.pid)), { what: `only QEMU naming ${dir}`, timeout: 15_000, interval: 100 })
      }
      const down = await xc('stop', '--name=ssh-cli')
      expect(down.exitCode, down.stdout + down.stderr).toBe(0)
      expect(leftOn('a', id)).toEqual([])
      expect(leftOn('b', id)).toEqual([])
      expect(listStates(home).some((s) => s.id === id)).toBe(false)
    } finally {
      await xc('stop', '--name=ssh-cli')
    }
  }, 300_000)

  test('the owner killed with SIGKILL: its QEMUs on the hosts end with its ssh sessions, and cleanup removes what is left there by its records', async () => {
    const child = execa(process.execPath, ['--import', 'tsx', CHILD, home, 'bridge', '2', JSON.stringify(aAndB())], { reject: false })
    let id: string | undefined
    child.stdout!.on('data', (d: Buffer) => (id ??= /^up ([0-9a-f]{8})/m.exec(d.toString())?.[1]))
    await waitUntil(() => id !== undefined, { what: "the child's cluster up", timeout: 120_000, interval: 100 })
    const state = listStates(home).find((s) => s.id === id)!.state
    const qemus = Object.values(state.vms).map((v) => v.process!.pid)
    // Its reaper first (it would clean up at once): what the sessions' end does alone is seen.
    process.kill(state.reaper!.pid, 'SIGKILL')
    child.kill('SIGKILL')
    await child
    await waitUntil(() => expect(qemus.filter((p) => running(p))).toEqual([]), { what: "the killed owner's QEMUs on the hosts gone", timeout: 30_000, interval: 100 })
    expect(leftOn('a', id!)).toContain(`namespace xc-${id}-a`)
    const report = (await cleanupDeadClusters(home, 'killed')).find((r) => r.id === id)
    expect(report?.error).toBeUndefined()
    expect(leftOn('a', id!)).toEqual([])
    expect(leftOn('b', id!)).toEqual([])
    expect(listStates(home).some((s) => s.id === id)).toBe(false)
  }, 240_000)

  test('a host that will never answer again: cleanup keeps its record and says so; xc cleanup --forget lets go of it and names what to remove there', async () => {
    const ghostHome = mkdtempSync(join(lab.tmp, 'home-'))
    const state = StateDir.create(ghostHome, 'ghost', 'bridge', false)
    const dir = `${lab.host('a').dir}/run/${state.id}-z`
    state.update((r) => {
      // Port 1 of lab host a: nothing listens, the connection is refused at once.
      r.remoteHosts = { z: { name: 'z', user: 'root', address: lab.host('a').address, port: 1, key: lab.clientKey, knownHosts: lab.host('a').options.knownHosts, dir, netns: `xc-${state.id}-z`, links: [] } }
      r.stoppedAt = new Date().toISOString()
    })
    const [kept] = await cleanupDeadClusters(ghostHome, 'ghost')
    expect(kept.error).toMatch(/host z could not be removed, and stays recorded .*xc cleanup --forget/s)
    expect(existsSync(state.dir)).toBe(true)
    const r = await execa(process.execPath, [XC, 'cleanup', '--name=ghost', '--forget'], { reject: false, env: { ...process.env, XCLUSTER_HOME: ghostHome } })
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`removed nothing on host z (root@${lab.host('a').address}:1), which does not answer (connect ECONNREFUSED`)
    expect(r.stdout).toContain(`remove by hand there namespace xc-${state.id}-z, links , directory ${dir}`)
    expect(existsSync(state.dir)).toBe(false)
  })
})
