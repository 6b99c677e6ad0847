// Network safety as tests: the harness listens only on 127.0.0.1 or on Unix
// sockets of mode 0600, joins its multicast groups on loopback only, and a
// capture on the host's uplink during a run with traffic on every net sees no
// packet of it (while the same capture filter where the nets run does: the
// control). With private user-mode nets (the default) that is the loopback of
// the cluster's own namespace, and the host's loopback sees nothing either.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { readFileSync, readlinkSync, statSync, readdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa, type ResultPromise } from 'execa'
import { startCluster, type RunningCluster } from '../src/index.ts'
import { NEEDS_CAPTURE_RIGHTS, canBridge, canCapture, skippedBecause } from './helpers/rights.ts'

/** The interface of the host's default route. */
async function uplink(): Promise<string> {
  const { stdout } = await execa('ip', ['-o', 'route', 'show', 'default'])
  return /dev (\S+)/.exec(stdout)![1]
}

/** Packets of the harness: VM MACs (00:00:00:01:*), the 192.168/16 nets, its multicast groups. */
const HARNESS_FILTER = '(ether[6:4] = 0x00000001 or ether[0:4] = 0x00000001) or net 192.168.0.0/16 or net 239.255.0.0/16'

/** Resolves once tcpdump `p` says it is listening (10 s at most). */
function listening(p: ResultPromise): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tcpdump did not start listening within 10 s')), 10_000)
    let text = ''
    p.stderr!.on('data', (d: Buffer) => {
      text += d.toString()
      if (text.includes('listening on')) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
}

/** Inodes of the sockets that process `pid` holds. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m) out.add(m[1])
    } catch {
      // closed meanwhile
    }
  }
  return out
}

/** TCP listeners and UDP sockets of `pids`, as [proto, local address] from /proc/<pid>/net (each process's own namespace). */
function socketsOf(pids: number[]): Array<[string, string]> {
  const inodes = new Set(pids.flatMap((p) => [...socketInodes(p)]))
  const found: Array<[string, string]> = []
  // One table per network namespace (QEMU and the relay may share one).
  const tables = [...new Map(pids.map((p) => [readlinkSync(`/proc/${p}/ns/net`), `/proc/${p}/net`])).values()]
  for (const proto of ['tcp', 'udp', 'tcp6', 'udp6']) for (const table of tables) {
    const lines = readFileSync(`${table}/${proto}`, 'utf8').trim().split('\n').slice(1)
    for (const l of lines) {
      const f = l.trim().split(/\s+/)
      const [local, , state, , , , , , inode] = f.slice(1)
      if (!inodes.has(inode)) continue
      if (proto.startsWith('tcp') && state !== '0A') continue // listeners only
      found.push([proto, decodeAddr(local)])
    }
  }
  return found
}

/** /proc/net hex "0100007F:5A14" -> "127.0.0.1:23060" (IPv4), IPv6 left in hex. */
function decodeAddr(hex: string): string {
  const [a, p] = hex.split(':')
  if (a.length !== 8) return `[${a}]:${parseInt(p, 16)}`
  const b = a.match(/../g)!.map((x) => parseInt(x, 16)).reverse()
  return `${b.join('.')}:${parseInt(p, 16)}`
}

/** The configurations: user mode with private nets (the default), user mode on the host's loopback, bridge mode. */
const MODES = [
  { label: 'user', network: 'user', userNets: 'private' },
  { label: 'user, shared nets', network: 'user', userNets: 'shared' },
  { label: 'bridge', network: 'bridge' },
] as const

for (const mode of MODES) {
  const { network, label } = mode
  const shared = 'userNets' in mode && mode.userNets === 'shared'
  // Bridge mode without root or CAP_NET_ADMIN: skipped, the describe's name says why.
  const skip = network === 'bridge' && !canBridge
  // The positive control of the capture test runs tcpdump where the nets
  // are: on the host's lo (shared user nets), else in the cluster's
  // namespace, as root there (-Z root: Debian's tcpdump would change to user
  // tcpdump, which a namespace with one uid mapped cannot become).
  const noCapture = !canCapture
  const noCaptureWhy = NEEDS_CAPTURE_RIGHTS
  describe.skipIf(skip)(skippedBecause(`${label} mode`, skip), () => {
    let cluster: RunningCluster
    let capture: ResultPromise
    let control: ResultPromise
    // Made in beforeAll, so that a skipped describe leaves no directory behind.
    let dir = ''

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'xc-safety-'))
      const dev = await uplink()
      // Captures start before the cluster: its boot, ARP, multicast joins are all seen.
      capture = execa('tcpdump', ['-i', dev, '-n', '-U', '-w', join(dir, 'uplink.pcap'), HARNESS_FILTER], { reject: false })
      control = execa('tcpdump', ['-i', 'lo', '-n', '-U', '-w', join(dir, 'lo.pcap'), HARNESS_FILTER], { reject: false })
      await new Promise((r) => setTimeout(r, 1000))
      cluster = await startCluster({ name: `safety-${network}${shared ? '-shared' : ''}`, network, ...('userNets' in mode ? { userNets: mode.userNets } : {}), nvm: 2, nrouters: 1, tools: true, stdAddresses: true })
    })
    afterAll(async () => {
      await cluster?.stop()
      capture?.kill('SIGINT')
      control?.kill('SIGINT')
      await Promise.allSettled([capture, control])
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    test('every socket the harness listens on is on 127.0.0.1 or a 0600 Unix socket; multicast only on lo', async () => {
      const pids = cluster.vms.map((v) => v.process.record.pid)
      const relay = cluster.state.state.relay
      if (relay) pids.push(relay.pid)
      const sockets = socketsOf(pids)
      const group = cluster.plan.allocation.mcastGroupPrefix
      for (const [proto, addr] of sockets) {
        const ok = addr.startsWith('127.0.0.1:') || (proto === 'udp' && addr.startsWith(`${group}.`))
        expect(ok, `${proto} ${addr}`).toBe(true)
      }
      if (network === 'user') {
        expect(cluster.state.state.userNets).toBe(shared ? 'shared' : 'private')
        expect(sockets.length).toBeGreaterThan(0)
        // The telnet and ssh forwards of every VM listen, on loopback.
        expect(sockets.filter(([p]) => p === 'tcp').length).toBe(2 * cluster.vms.length)
        // /proc/net/igmp writes 239.255.B.k as kk BB FF EF (little-endian hex).
        const blockHex = Number(group.split('.')[2]).toString(16).padStart(2, '0').toUpperCase()
        const mine = new RegExp(`\\b[0-9A-F]{2}${blockHex}FFEF\\b`)
        const joinedOn = (igmpFile: string): string[] => readFileSync(igmpFile, 'utf8').split(/\n(?=\d+\s)/)
          .filter((block) => mine.test(block)).map((block) => block.split(/\s+/)[1])
        // The cluster has joined its groups on lo of its QEMUs' namespace, and nowhere else.
        expect(joinedOn(`/proc/${pids[0]}/net/igmp`)).toEqual(['lo'])
        // Private: the host's own namespace has no membership of them (no local user can share that lo).
        if (!shared) expect(joinedOn('/proc/net/igmp')).toEqual([])
      }
      for (const f of readdirSync(cluster.stateDir).filter((n) => n.endsWith('.sock') || n.endsWith('.qmp'))) {
        expect((statSync(join(cluster.stateDir, f)).mode & 0o777).toString(8), f).toBe('600')
      }
    })

    // tcpdump on the uplink and on lo needs root or CAP_NET_RAW: without it the capture test is skipped, its name says why.
    test.skipIf(noCapture)(skippedBecause(`a capture on the host uplink during traffic on every net sees no packet of the harness${shared ? '' : ", nor one on the host's lo"}`, noCapture, noCaptureWhy), async () => {
      // The positive control where the nets are not the host's lo: a capture inside the cluster's namespace (net 1's bridge, or its lo).
      const nsCapture = shared ? undefined : execa(...hostArgv(cluster, ['tcpdump', '-Z', 'root', '-i', network === 'bridge' ? 'xcbr1' : 'lo', '-n', '-U', '-w', join(dir, 'ns.pcap'), HARNESS_FILTER]), { reject: false })
      if (nsCapture) await listening(nsCapture)
      expect(await cluster.vm(1).ping('192.168.1.2')).toBe(true)
      expect(await cluster.vm(1).ping('1000::1:192.168.1.201')).toBe(true)
      expect(await cluster.vm(201).ping('192.168.0.250')).toBe(true)
      await cluster.vm(2).run('iperf3 -s -D -1')
      await cluster.vm(1).run('iperf3 -c 192.168.1.2 -t 1', { timeout: 30_000 })
      await new Promise((r) => setTimeout(r, 500))
      // A capture file that cannot be read is an error, not 0 packets.
      const count = async (file: string): Promise<number> => {
        const r = await execa('tcpdump', ['-n', '-r', file], { reject: false })
        if (r.exitCode !== 0) throw new Error(`tcpdump -r ${file} failed (${r.exitCode}): ${r.stderr}`)
        return r.stdout.split('\n').filter(Boolean).length
      }
      const onUplink = await count(join(dir, 'uplink.pcap'))
      const onLo = await count(join(dir, 'lo.pcap'))
      console.log(`[${label}] packets of the harness on the uplink: ${onUplink}; on the host's lo: ${onLo}`)
      expect(onUplink).toBe(0)
      // Shared user nets run over the host's lo, so the same filter sees them there (the control).
      if (shared) expect(onLo).toBeGreaterThan(0)
      // Private user nets and bridge mode: nothing on the host's lo; the same filter in the namespace sees the traffic.
      else {
        expect(onLo).toBe(0)
        expect(nsCapture, 'the capture in the namespace runs').toBeDefined()
        nsCapture!.kill('SIGINT')
        await nsCapture
        const inNs = await count(join(dir, 'ns.pcap'))
        console.log(`[${label}] packets of the harness in the cluster's namespace: ${inNs}`)
        expect(inNs).toBeGreaterThan(0)
      }
    })
  })
}

/** `argv` as [file, args] run on the host side of `cluster`'s nets (inside its namespace). */
function hostArgv(cluster: RunningCluster, argv: string[]): [string, string[]] {
  const [file, ...args] = cluster.hostArgv(argv)
  return [file, args]
}
