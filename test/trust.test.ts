// No one gets in: the user nobody, beside root's clusters, tries what another
// local user of a shared machine could, each attack made for real and
// refused: a stopped VM's telnet port squatted with a fake login (relaying
// another VM's challenge), sniffing and injecting frames on nets 1+, 150
// idle connections to a VM's login, a port lock directory made first, an
// overlay planted in the current directory. Shared user-mode nets (the host's
// loopback) are the control where private ones leave nothing to attack.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { ChannelError, ClusterConfigError, ImpostorError, startCluster, waitUntil, type RunningCluster } from '../src/index.ts'
import { ShellChannel } from '../src/control/shell-channel.ts'
import { connectLoopback } from '../src/net/user-backend.ts'
import { loopbackPeerHeldBy } from '../src/host/socket-owner.ts'
import { PortLockDirError } from '../src/errors.ts'
import { privateHome } from './helpers/host.ts'
import { skippedBecause } from './helpers/rights.ts'

const isRoot = process.getuid?.() === 0
const WHY = 'needs root (setpriv to the user nobody, beside root\'s clusters)'
const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))

/** A process of the user nobody running `script` (JavaScript for node -e), its stdout kept whole, so that a line is found whenever it is asked for. */
class Nobody {
  readonly child: ReturnType<typeof execa>
  private out = ''
  constructor(script: string, timeoutMs = 60_000) {
    this.child = execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { reject: false, env: { HOME: '/tmp', PATH: '/usr/bin:/bin' }, timeout: timeoutMs, cwd: '/tmp' })
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()))
  }

  /** The first line starting with `word`, once it has come (within `timeoutMs`). */
  async line(word: string, timeoutMs = 20_000): Promise<string> {
    return waitUntil(() => {
      const line = this.out.split('\n').find((l) => l.startsWith(word))
      if (!line) throw new Error(`not yet; nobody's process printed: ${this.out}`)
      return line
    }, { what: `"${word}" from nobody's process`, timeout: timeoutMs, interval: 50 })
  }

  /** Its whole stdout, once it has ended. */
  async done(): Promise<string> {
    await this.child
    return this.out
  }

  kill(): void {
    this.child.kill('SIGKILL')
  }
}

describe.skipIf(!isRoot)(skippedBecause('another local user, beside root\'s clusters', !isRoot, WHY), () => {
  let home: string
  let remove: () => Promise<void>
  let shared: RunningCluster
  let priv: RunningCluster
  beforeAll(async () => {
    ;({ home, remove } = privateHome())
    ;[shared, priv] = await Promise.all([
      startCluster({ home, name: 'trust-shared', userNets: 'shared', nvm: 3, nrouters: 0, stdAddresses: true }),
      startCluster({ home, name: 'trust-private', nvm: 2, nrouters: 0, stdAddresses: true }),
    ])
  })
  afterAll(async () => {
    await Promise.allSettled([shared?.stop(), priv?.stop()])
    await remove?.()
  })

  describe("a stopped VM's telnet port, squatted", () => {
    let squatter: Nobody
    let log = ''
    let mode: string
    beforeAll(async () => {
      // vm-002's QEMU ends (as by a guest poweroff under -no-reboot): its forward port is free for anyone to bind.
      const vm2 = shared.vm(2)
      await vm2.stop()
      const dir = mkdtempSync(join(tmpdir(), 'xc-squat-'))
      chmodSync(dir, 0o777)
      log = join(dir, 'log.json')
      mode = join(dir, 'mode')
      writeFileSync(mode, 'as-is')
      // A fake login on vm-002's port: each connection gets vm-001's real challenge (as it is, or with vm-002's name, as the file
      // \`mode\` says), whatever the client answers goes on to vm-001 (and back), and everything is written down.
      squatter = new Nobody(`
        const net = require('node:net'); const fs = require('node:fs')
        const seen = []
        const save = () => { fs.writeFileSync(${JSON.stringify(log + '.tmp')}, JSON.stringify(seen)); fs.renameSync(${JSON.stringify(log + '.tmp')}, ${JSON.stringify(log)}) }
        net.createServer((client) => {
          const rewrite = fs.readFileSync(${JSON.stringify(mode)}, 'utf8') === 'rename'
          const rec = { rewrite, fromClient: '', fromVm1: '' }; seen.push(rec); save()
          const vm1 = net.connect(${shared.vm(1).plan.telnetPort}, '127.0.0.1')
          let sent = false
          vm1.on('data', (d) => {
            let t = d.toString('latin1'); rec.fromVm1 += t
            if (!sent && t.includes('xc-challenge: ')) { sent = true; if (rewrite) t = t.replace('vm-001', 'vm-002') }
            client.write(Buffer.from(t, 'latin1')); save()
          })
          client.on('data', (d) => { rec.fromClient += d.toString('latin1'); vm1.write(d); save() })
          client.on('error', () => {}); vm1.on('error', () => {})
          client.on('close', () => vm1.end()); vm1.on('close', () => client.end())
        }).listen(${vm2.plan.telnetPort}, '127.0.0.1', () => { console.log('listening'); save() })
        setTimeout(() => process.exit(0), 120000)
      `, 130_000)
      await squatter.line('listening')
    })
    afterAll(async () => {
      squatter?.kill()
      await squatter?.done()
      if (log) rmSync(dirname(log), { recursive: true, force: true })
    })
    const seen = (): Array<{ rewrite: boolean; fromClient: string; fromVm1: string }> => JSON.parse(readFileSync(log, 'utf8'))

    test('the library and xc refuse a VM whose QEMU is gone: nothing reaches the squatter', async () => {
      await expect(shared.vm(2).exec('hostname')).rejects.toBeInstanceOf(ChannelError)
      const env = { ...process.env, XCLUSTER_HOME: home }
      for (const args of [['rsh', '--name=trust-shared', '2', 'hostname'], ['vm', '--name=trust-shared', '2']]) {
        const r = await execa(process.execPath, [XC, ...args], { reject: false, env, input: '' })
        expect(r.exitCode, `xc ${args.join(' ')}: ${r.stdout}${r.stderr}`).not.toBe(0)
      }
      expect(seen()).toEqual([])
    })

    test("the check of the listener: the squatter's accepted socket is not vm-002's QEMU, vm-001's is", async () => {
      writeFileSync(mode, 'as-is')
      const qemu1 = shared.vm(1).process.record.pid
      const onSquat = await connectLoopback(shared.vm(2).plan.telnetPort)
      const onVm1 = await connectLoopback(shared.vm(1).plan.telnetPort)
      try {
        expect(await loopbackPeerHeldBy(qemu1, (onSquat as unknown as { localPort: number }).localPort, shared.vm(2).plan.telnetPort)).toBe(false)
        expect(await loopbackPeerHeldBy(qemu1, (onVm1 as unknown as { localPort: number }).localPort, shared.vm(1).plan.telnetPort)).toBe(true)
      } finally {
        onSquat.destroy()
        onVm1.destroy()
      }
      // Its connection is on the squatter's record before the next test counts them (under load its accept came late).
      await waitUntil(() => expect(seen()).toHaveLength(1), { what: "the squatter's record of the listener check's connection", timeout: 10_000 })
    })

    test("a client that reaches the squatter anyway gives it nothing that logs in anywhere", async () => {
      const secret = shared.vm(1).secret()
      const before = seen().length
      // Relayed as it is: the challenge names vm-001, the client means vm-002, and answers nothing.
      writeFileSync(mode, 'as-is')
      const asIs = await ShellChannel.open(await connectLoopback(shared.vm(2).plan.telnetPort), 'vm-002', 10_000, undefined, secret).catch((e: unknown) => e)
      expect(asIs).toBeInstanceOf(ImpostorError)
      // With vm-002's name put in: the client answers for vm-002, which vm-001 refuses.
      writeFileSync(mode, 'rename')
      const renamed = await ShellChannel.open(await connectLoopback(shared.vm(2).plan.telnetPort), 'vm-002', 10_000, undefined, secret).catch((e: unknown) => e)
      expect(renamed).toBeInstanceOf(ChannelError)
      await new Promise((r) => setTimeout(r, 1000))
      const [first, second] = seen().slice(before)
      expect(first.rewrite).toBe(false)
      expect(first.fromClient.replace(/\xff[\xfb-\xfe]./gs, '')).toBe('')
      expect(second.rewrite).toBe(true)
      expect(second.fromVm1, JSON.stringify(second)).toContain('xc: wrong answer')
      // What it captured is not the secret, and it opens no other VM either: each login wants a fresh nonce answered.
      const captured = [first, second].map((r) => r.fromClient).join('')
      expect(captured).not.toContain(secret)
      const answer = /([0-9a-f]{64}) ctl/.exec(captured)?.[1]
      expect(answer).toBeDefined()
      for (const vm of [1, 3]) {
        const r = new Nobody(`
          const s = require('node:net').connect(${shared.vm(vm).plan.telnetPort}, '127.0.0.1'); let t = ''; let sent = false
          s.on('data', (d) => { t += d.toString('latin1'); if (!sent && /xc-challenge: [^\\n]*\\n/.test(t)) { sent = true; s.write('${answer} ctl\\n') } })
          const done = () => { console.log(JSON.stringify(t)); process.exit(0) }
          s.on('close', done); s.on('error', done); setTimeout(done, 15000)
        `)
        const text = JSON.parse(await r.done()) as string
        expect(text).toContain('xc: wrong answer')
        expect(text).not.toContain('XC-READY')
      }
    })
  })

  /** As nobody: listen on the multicast group of `c`'s net 1 for `ms`, sending an ARP request for 192.168.1.1 from 192.168.1.99 (02:00:00:00:00:99) into it; the frames seen. */
  async function sniffAndInject(c: RunningCluster, ms: number): Promise<number> {
    const a = c.plan.allocation
    const group = `${a.mcastGroupPrefix}.1`
    const child = new Nobody(`
      const d = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true })
      // Frames of the VMs only: not the ones this process sends (multicast loops them back to it).
      let frames = 0
      d.on('message', (m) => { if (m.subarray(6, 12).toString('hex') !== '020000000099') frames++ })
      d.bind(${a.mcastPortBase + 1}, () => {
        try { d.addMembership('${group}', '127.0.0.1') } catch (e) { console.log('join ' + e.code) }
        d.setMulticastInterface('127.0.0.1'); d.setMulticastLoopback(true)
        const mac = Buffer.from('020000000099', 'hex')
        const ip = (s) => Buffer.from(s.split('.').map(Number))
        const arp = Buffer.concat([Buffer.from([0,1,8,0,6,4,0,1]), mac, ip('192.168.1.99'), Buffer.alloc(6), ip('192.168.1.1')])
        const frame = Buffer.concat([Buffer.alloc(6, 0xff), mac, Buffer.from([8, 6]), arp])
        // Every 200 ms for the whole window: once 5 in the first second, and under load vm-001 of the shared net (the control) once kept none.
        for (let i = 0; i < ${Math.floor(ms / 200)}; i++) setTimeout(() => d.send(frame, ${a.mcastPortBase + 1}, '${group}'), 200 * i)
        console.log('joined')
      })
      setTimeout(() => { console.log('frames ' + frames); process.exit(0) }, ${ms})
    `, ms + 20_000)
    await child.line('joined')
    // Traffic on net 1 while nobody listens.
    await c.vm(1).exec('ping -c 5 -i 0.2 192.168.1.2')
    const line = await child.line('frames ', ms + 10_000)
    await child.done()
    return Number(line.split(' ')[1])
  }

  test('nets 1+: shared ones, on the host\'s loopback, are open to another user (the control); private ones show and take nothing', async () => {
    const neigh = (c: RunningCluster): Promise<string> => c.vm(1).run('ip neigh show 192.168.1.99')
    expect(await sniffAndInject(shared, 3000)).toBeGreaterThan(0)
    expect(await neigh(shared)).toContain('02:00:00:00:00:99')
    // The private cluster's groups are not the shared one's on the host (it would hear the shared cluster's answers to its own injection).
    expect(priv.plan.allocation.mcastGroupPrefix).not.toBe(shared.plan.allocation.mcastGroupPrefix)
    expect(await sniffAndInject(priv, 3000)).toBe(0)
    expect(await neigh(priv)).toBe('')
  })

  test("150 idle connections to a VM's login (shared nets): at most 8 logins wait at once, each at most 10 s; the VM keeps its memory, the harness its channel", async () => {
    const vm = shared.vm(3)
    const memFree = async (): Promise<number> => Number(/MemAvailable:\s+(\d+)/.exec(await vm.run('cat /proc/meminfo'))![1])
    const before = await memFree()
    // nobody opens 150 connections and holds them for 25 s, saying no word.
    const flood = new Nobody(`
      const net = require('node:net'); let closed = 0
      for (let i = 0; i < 150; i++) { const s = net.connect(${vm.plan.telnetPort}, '127.0.0.1'); s.on('error', () => {}); s.on('close', () => closed++) }
      setTimeout(() => console.log('opened'), 1000)
      setTimeout(() => { console.log('closed ' + closed); process.exit(0) }, 25000)
    `)
    await flood.line('opened')
    // Meanwhile: the harness's open channel answers, and the logins waiting in the VM stay at most 8 (sampled every 2 s).
    const waiting: number[] = []
    let low = before
    for (let i = 0; i < 10; i++) {
      expect(await vm.run('hostname')).toBe('vm-003\n')
      waiting.push(Number((await vm.run('ls /run/xc-login | wc -l')).trim()))
      low = Math.min(low, await memFree())
      await new Promise((r) => setTimeout(r, 2000))
    }
    const closedByGuest = Number((await flood.line('closed ', 30_000)).split(' ')[1])
    await flood.done()
    console.log(`[idle logins] waiting at once (every 2 s): ${waiting.join(' ')}; MemAvailable ${before} kB before, lowest ${low} kB during; ${closedByGuest} of 150 connections closed in 25 s (telnetd's backlog of 1 keeps the rest waiting in QEMU's slirp, outside the guest)`)
    expect(Math.max(...waiting)).toBeLessThanOrEqual(8)
    expect(Math.max(...waiting)).toBeGreaterThan(0)
    expect(before - low).toBeLessThan(4096)
    // Once nobody is gone, a new login works at once.
    await vm.closeChannel()
    expect(await vm.run('hostname')).toBe('vm-003\n')
  })

  test('a port lock directory made first by another user: root takes it over (its locks are honoured or cleaned up, a link is not followed); a link as the directory is refused', async () => {
    const locks = join(tmpdir(), `xc-trust-locks-${process.pid}`)
    const link = `${locks}-link`
    const old = process.env.XCLUSTER_PORT_LOCKS
    const passwd = createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex')
    try {
      // nobody makes it first, not sticky, with a forged stale lock and a link to /etc/passwd as the locks of every block.
      const made = new Nobody(`
        const fs = require('node:fs'); fs.mkdirSync('${locks}', { mode: 0o777 }); fs.chmodSync('${locks}', 0o777)
        for (let b = 8; b < 64; b++) { if (b % 2) fs.writeFileSync('${locks}/' + b, 'deadbeef /nonexistent\\n'); else fs.symlinkSync('/etc/passwd', '${locks}/' + b) }
        fs.symlinkSync('${locks}', '${link}')
        console.log('made')
      `)
      expect(await made.done()).toContain('made')
      process.env.XCLUSTER_PORT_LOCKS = locks
      const c = await startCluster({ home, name: 'trust-locks', userNets: 'shared', nvm: 1, nrouters: 0 })
      try {
        const st = lstatSync(locks)
        expect(st.uid).toBe(0)
        expect((st.mode & 0o7777).toString(8)).toBe('1777')
        const mine = join(locks, String(c.state.state.portBlock))
        expect(lstatSync(mine).isFile()).toBe(true)
        expect(lstatSync(mine).uid).toBe(0)
        expect(readFileSync(mine, 'utf8')).toBe(`${c.id} ${home}\n`)
      } finally {
        await c.stop()
      }
      expect(createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex')).toBe(passwd)
      // The directory given as a link (nobody's): not followed.
      process.env.XCLUSTER_PORT_LOCKS = link
      const err = await startCluster({ home, name: 'trust-link', userNets: 'shared', nvm: 1, nrouters: 0 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(PortLockDirError)
      expect((err as Error).message).toMatch(/not a directory \(a link, or a file\)/)
    } finally {
      if (old === undefined) delete process.env.XCLUSTER_PORT_LOCKS
      else process.env.XCLUSTER_PORT_LOCKS = old
      rmSync(locks, { recursive: true, force: true })
      rmSync(link, { force: true })
    }
  })

  test('an overlay planted in the current directory: a name finds the search path\'s, and ./name (another user\'s tar script) is refused before it runs', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'xc-trust-cwd-'))
    const trusted = mkdtempSync(join(tmpdir(), 'xc-trust-ovl-'))
    const pwned = join(tmpdir(), `xc-trust-pwned-${process.pid}`)
    const oldCwd = process.cwd()
    try {
      chownSync(cwd, 65534, 65534)
      chmodSync(cwd, 0o755)
      mkdirSync(join(trusted, 'ovl1', 'etc'), { recursive: true })
      writeFileSync(join(trusted, 'ovl1', 'etc', 'trusted'), 'yes\n')
      const planted = new Nobody(`
        const fs = require('node:fs'); fs.mkdirSync('${cwd}/ovl1')
        fs.writeFileSync('${cwd}/ovl1/tar', '#!/bin/sh\\ntouch ${pwned}\\ntar -cf "$1" -T /dev/null\\n', { mode: 0o755 })
        console.log('planted')
      `)
      expect(await planted.done()).toContain('planted')
      process.chdir(cwd)
      const c = await startCluster({ home, name: 'trust-ovl', nvm: 1, nrouters: 0, overlays: ['ovl1'], ovlPath: [trusted] })
      try {
        expect(await c.vm(1).run('cat /etc/trusted')).toBe('yes\n')
      } finally {
        await c.stop()
      }
      expect(existsSync(pwned)).toBe(false)
      const err = await startCluster({ home, name: 'trust-ovl2', nvm: 1, nrouters: 0, overlays: ['./ovl1'] }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ClusterConfigError)
      expect((err as ClusterConfigError).problems, (err as ClusterConfigError).problems.join('\n')).toEqual([expect.stringMatching(new RegExp(`^Overlay \\./ovl1 \\(in \`overlays\`\\): its tar script would run as root, but another user could have changed it: ${cwd}(/ovl1(/tar)?)? belongs to uid 65534$`))])
      expect(existsSync(pwned)).toBe(false)
    } finally {
      process.chdir(oldCwd)
      rmSync(cwd, { recursive: true, force: true })
      rmSync(trusted, { recursive: true, force: true })
      rmSync(pwned, { force: true })
    }
  })
})

