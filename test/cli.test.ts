// The xc command driven as a user would: a fresh process for every step,
// in both networking modes, then bad use.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { join } from 'node:path'
import { leftovers, privateHome } from './helpers/host.ts'
import { canBridge, skippedBecause } from './helpers/rights.ts'

const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
let home: string
let remove: () => void
beforeAll(() => ({ home, remove } = privateHome()))
afterAll(async () => {
  for (const name of ['cli-user', 'cli-bridge', 'cli-bad']) await xc('stop', `--name=${name}`)
  await remove()
})

/** Run `xc args...` in a fresh process with the private home. */
function xc(...args: string[]) {
  return execa(process.execPath, [XC, ...args], { reject: false, env: { XCLUSTER_HOME: home }, timeout: 240_000 })
}

for (const mode of ['user', 'bridge'] as const) {
  // Bridge mode without root or CAP_NET_ADMIN: skipped, the describe's name says why.
  const skip = mode === 'bridge' && !canBridge
  describe.skipIf(skip)(skippedBecause(`xc in ${mode} mode`, skip), () => {
    const name = `cli-${mode}`
    let id = ''

    test('start -> status -> rsh -> scaleout -> stop, nothing left', async () => {
      const start = await xc('start', `--name=${name}`, '--nvm=2', '--nrouters=0', `--network=${mode}`, '--tools=yes')
      expect(start.exitCode, start.stderr).toBe(0)
      expect(start.stdout).toMatch(new RegExp(`^cluster ${name} \\(([0-9a-f]{8})\\) is up: vm-001 vm-002`))
      expect(start.stderr).toContain('vm-001 ready')
      id = /\(([0-9a-f]{8})\)/.exec(start.stdout)![1]

      const status = JSON.parse((await xc('status', `--name=${name}`, '--json')).stdout)
      expect(status).toMatchObject({ name, running: true, id, network: mode })
      expect(status.vms.map((v: { name: string; alive: boolean }) => [v.name, v.alive])).toEqual([['vm-001', true], ['vm-002', true]])

      const host = await xc('rsh', `--name=${name}`, '1', 'hostname')
      expect([host.exitCode, host.stdout]).toEqual([0, 'vm-001'])
      const no = await xc('rsh', `--name=${name}`, '1', 'false')
      expect(no.exitCode).toBe(1)
      const code = await xc('rsh', `--name=${name}`, '2', 'echo to-stderr >&2; exit 42')
      expect([code.exitCode, code.stderr]).toEqual([42, 'to-stderr'])

      // xc wait, on the cluster's budgets: a command until it succeeds (options after it), a port, a file, and one that runs out.
      expect((await xc('rsh', `--name=${name}`, '1', "setsid sh -c 'sleep 1; echo up > /tmp/w' < /dev/null > /dev/null 2>&1 &")).exitCode).toBe(0)
      const w = await xc('wait', `--name=${name}`, '1', 'cat /tmp/w', '--timeout=60')
      expect([w.exitCode, w.stdout, w.stderr]).toEqual([0, 'up', ''])
      expect((await xc('wait', `--name=${name}`, '--port=23', '2')).exitCode).toBe(0)
      expect((await xc('wait', `--name=${name}`, '--file=/tmp/w', '1')).exitCode).toBe(0)
      const late = await xc('wait', `--name=${name}`, '--timeout=1', '2', 'echo still; exit 5')
      expect(late.exitCode).toBe(1)
      expect(late.stderr).toMatch(/^xc wait: vm-002: waited \d+\.\d s for `echo still; exit 5` to succeed, in vain \(bound [\d.]+ s = 1\.0 s nominal x [\d.]+ for this machine; \d+ attempts\)/)
      expect(late.stderr).toContain('--- the last attempt ---\nexit 5: echo still; exit 5\nstill')

      const out = await xc('scaleout', `--name=${name}`, '3')
      expect(out.exitCode, out.stderr).toBe(0)
      expect((await xc('rsh', `--name=${name}`, '3', 'hostname')).stdout).toBe('vm-003')
      expect((await xc('rsh', `--name=${name}`, '3', 'ping -c1 -W2 192.168.0.250')).exitCode).toBe(0)

      // xcluster's rcp: a file from the VM, and one to it.
      const local = join(home, `${name}-hostname`)
      expect((await xc('rcp', `--name=${name}`, '1', '/etc/hostname', local)).exitCode).toBe(0)
      expect((await import('node:fs')).readFileSync(local, 'utf8')).toBe('vm-001\n')
      expect((await xc('rcp', `--name=${name}`, '--to', '2', local, '/tmp/from-host')).exitCode).toBe(0)
      expect((await xc('rsh', `--name=${name}`, '2', 'cat /tmp/from-host')).stdout).toBe('vm-001')

      // A capture round trip: the pcap comes back and the host's tcpdump reads it.
      expect((await xc('tcpdump', `--name=${name}`, '--start', '1', 'eth0', 'icmp')).exitCode).toBe(0)
      expect((await xc('rsh', `--name=${name}`, '1', 'ping -c2 -W2 192.168.0.250')).exitCode).toBe(0)
      const pcap = join(home, `${name}.pcap`)
      const got = await xc('tcpdump', `--name=${name}`, '--get', '1', 'eth0', pcap)
      expect(got.exitCode, got.stderr).toBe(0)
      const read = await execa('tcpdump', ['-n', '-r', pcap], { reject: false })
      expect(read.exitCode, read.stderr).toBe(0)
      expect(read.stdout).toMatch(/IP 192\.168\.0\.1 > 192\.168\.0\.250: ICMP echo request/)
      expect(read.stdout).toMatch(/IP 192\.168\.0\.250 > 192\.168\.0\.1: ICMP echo reply/)

      const stop = await xc('stop', `--name=${name}`)
      expect(stop.exitCode, stop.stderr).toBe(0)
      expect((await xc('status', `--name=${name}`)).stdout).toBe(`cluster ${name}: none running`)
      expect(await leftovers(home, [id])).toEqual([])
    })
  })
}

describe('interactive and bad use', () => {
  beforeAll(async () => {
    const r = await xc('start', '--name=cli-bad', '--nvm=1', '--nrouters=0')
    expect(r.exitCode, r.stderr).toBe(0)
  })

  test('xc vm 1 in a pseudo-terminal: type hostname, read vm-001, exit cleanly', async () => {
    // `script` gives xc a real pty; the typed lines go through it to the VM's shell.
    const typed = '(sleep 3; printf "hostname\\r"; sleep 1; printf "exit\\r"; sleep 2)'
    const r = await execa('sh', ['-c', `${typed} | script -qfec "${process.execPath} ${XC} vm --name=cli-bad 1" /dev/null`], {
      reject: false,
      env: { XCLUSTER_HOME: home, TERM: 'dumb' },
      timeout: 60_000,
    })
    expect(r.exitCode).toBe(0)
    const lines = r.stdout.replace(/\r/g, '').split('\n')
    expect(lines).toContain('vm-001')
    expect(lines.some((l) => l.includes('vm-001 #') && l.includes('exit'))).toBe(true)
  })

  test('unknown command: one line and the usage, exit 2', async () => {
    const r = await xc('frobnicate')
    expect(r.exitCode).toBe(2)
    expect(r.stderr.split('\n')[0]).toBe('xc: unknown command `frobnicate`')
    expect(r.stderr).toContain('Usage: xc <command> [options]')
  })

  test('unknown option: one line and the usage of that command', async () => {
    const r = await xc('start', '--bogus=1')
    expect(r.exitCode).toBe(2)
    expect(r.stderr.split('\n')[0]).toBe('xc start: unknown option `--bogus`')
    expect(r.stderr).toContain('Usage: xc start [cluster options] [overlay...]')
  })

  test('rsh to a VM that does not exist', async () => {
    const r = await xc('rsh', '--name=cli-bad', '9', 'true')
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toBe('xc rsh: No VM vm-009 in cluster cli-bad; it has vm-001')
  })

  test('start when that cluster is already running', async () => {
    const r = await xc('start', '--name=cli-bad', '--nvm=1', '--nrouters=0')
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toMatch(/^xc start: cluster cli-bad is already running \(id [0-9a-f]{8}\); stop it with `xc stop --name=cli-bad`/)
  })

  test('stop when none of that name runs: the ones that do are named', async () => {
    const r = await xc('stop', '--name=nothing-here')
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toBe('xc stop: No cluster named nothing-here is running; running in this home: cli-bad (xc ls). Or start one with `xc start --name=nothing-here`')
  })

  test('diagram writes the SVG of the running cluster', async () => {
    const out = join(home, 'cli-bad.svg')
    const r = await xc('diagram', '--name=cli-bad', `--out=${out}`)
    expect(r.exitCode, r.stderr).toBe(0)
    const svg = (await import('node:fs')).readFileSync(out, 'utf8')
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    expect(svg).toContain('vm-001')
  })

  test('bad values get the same listed problems as the library', async () => {
    const r = await xc('start', '--name=cli-bad2', '--nvm=0', '--mem=10')
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain('Expected `nvm` to be an integer 1-200, got `0`')
    expect(r.stderr).toContain('Expected `mem` to be an integer 80-16384, got `10`')
  })

  test('every command has --help', async () => {
    for (const cmd of ['setup', 'env', 'start', 'status', 'stop', 'vm', 'rsh', 'wait', 'rcp', 'scaleout', 'scalein', 'stop_vm', 'cont_vm', 'reset_vm', 'tcpdump', 'diagram', 'cleanup']) {
      const r = await xc(cmd, '--help')
      expect(r.exitCode, cmd).toBe(0)
      expect(r.stdout, cmd).toMatch(new RegExp(`^Usage: xc ${cmd}`))
    }
  })
})
