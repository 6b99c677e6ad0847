// The xc commands that look at and tidy up a host: env, state and cleanup,
// driven as a user would (a fresh process for every step), and --name on
// every command. Two 1-VM clusters in user mode are all it boots.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { procAlive, procCmdline } from '../src/host/proc.ts'
import { waitUntil } from '../src/index.ts'
import { leftovers, privateHome } from './helpers/host.ts'

const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
const COMMANDS = ['setup', 'env', 'start', 'ls', 'status', 'stop', 'vm', 'rsh', 'rcp', 'scaleout', 'scalein', 'stop_vm', 'cont_vm', 'reset_vm', 'link', 'tcpdump', 'diagram', 'cleanup', 'state']
const LIVE = 'adm-live'
const DEAD = 'adm-dead'

let home: string
let remove: () => Promise<void>
beforeAll(() => ({ home, remove } = privateHome()))
afterAll(async () => {
  for (const name of [LIVE, DEAD]) await xc('stop', `--name=${name}`)
  await remove()
})

/** The environment of the test run without xcluster's own variables (__nvm, XCLUSTER_*), plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(__|XCLUSTER_)/.test(k)) env[k] = v
  return { ...env, XCLUSTER_HOME: home, ...extra }
}

/** Run `xc args...` in a fresh process with the private home (and `env` on top). */
function xc(...args: Array<string | Record<string, string>>) {
  const env = args.find((a): a is Record<string, string> => typeof a === 'object') ?? {}
  const argv = args.filter((a): a is string => typeof a === 'string')
  return execa(process.execPath, [XC, ...argv], { reject: false, env: cleanEnv(env), extendEnv: false, timeout: 240_000 })
}

interface Setting {
  key: string
  value: unknown
  source: string
  from?: string
}

describe('xc env', () => {
  test('each setting and where it came from: default, environment, option over environment', async () => {
    const r = await xc('env', '--nrouters=1', { __nvm: '3', __nrouters: '2' })
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toBe(`XCLUSTER_HOME ${home}`)
    const line = (key: string): string[] => lines.find((l) => l.split(/\s+/)[0] === key)?.split(/\s+/) ?? []
    expect(line('nvm')).toEqual(['nvm', '3', 'environment', '(__nvm)'])
    expect(line('nrouters')).toEqual(['nrouters', '1', 'option', '(--nrouters)'])
    expect(line('mem')).toEqual(['mem', '128', 'default'])
    expect(line('name')).toEqual(['name', '"default"', 'default'])
    expect(lines.filter((l) => l.startsWith('problem:'))).toEqual([])
  })

  test('--json has the same, and --name is a setting too', async () => {
    const r = await xc('env', '--nrouters=1', '--name', 'other', '--json', { __nvm: '3', __nrouters: '2' })
    expect(r.exitCode, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { settings: Setting[]; home: string; problems: string[] }
    const of = (key: string): Setting | undefined => out.settings.find((s) => s.key === key)
    expect(out.home).toBe(home)
    expect(out.problems).toEqual([])
    expect(of('nvm')).toEqual({ key: 'nvm', value: 3, source: 'environment', from: '__nvm' })
    expect(of('nrouters')).toEqual({ key: 'nrouters', value: 1, source: 'option', from: '--nrouters' })
    expect(of('mem')).toEqual({ key: 'mem', value: 128, source: 'default' })
    expect(of('name')).toEqual({ key: 'name', value: 'other', source: 'option', from: '--name' })
    expect(out.settings.filter((s) => s.key === 'nrouters')).toHaveLength(1)
  })

  test('a bad value is listed as a problem, exit 1', async () => {
    const r = await xc('env', '--nvm=0')
    expect(r.exitCode).toBe(1)
    expect(r.stdout.split('\n')).toContain('problem: Expected `nvm` to be an integer 1-200, got `0`')
    const json = await xc('env', '--nvm=0', '--json')
    expect(json.exitCode).toBe(1)
    expect(JSON.parse(json.stdout).problems).toEqual(['Expected `nvm` to be an integer 1-200, got `0`'])
  })
})

describe('--name on every command', () => {
  test("every command's --help mentions --name, or says why it has none", async () => {
    const helps = await Promise.all(COMMANDS.map((cmd) => xc(cmd, '--help')))
    COMMANDS.forEach((cmd, i) => {
      expect(helps[i].exitCode, cmd).toBe(0)
      expect(helps[i].stdout, cmd).toMatch(new RegExp(`^Usage: xc ${cmd}`))
      expect(helps[i].stdout, cmd).toContain('--name')
    })
    expect(helps[0].stdout).toMatch(/^No --name: setup is machine-wide \(.*shared by every cluster\)\.$/m)
  })

  test('setup refuses --name, in both forms, with the reason: exit 2', async () => {
    for (const args of [['--name=x'], ['--name', 'x']]) {
      const r = await xc('setup', ...args)
      expect(r.exitCode).toBe(2)
      expect(r.stderr.split('\n')[0]).toMatch(/^xc setup: --name does not apply: setup is machine-wide \(.*\)$/)
    }
  })

  test('--name NAME (space form) works as --name=NAME; a missing value is a usage error', async () => {
    expect((await xc('status', '--name', 'nothing-here')).stdout).toBe('cluster nothing-here: none running')
    const state = await xc('state', '--name', 'nothing-here')
    expect([state.exitCode, state.stderr]).toEqual([1, 'xc state: No cluster named nothing-here is running (start one with `xc start --name=nothing-here`)'])
    const rsh = await xc('rsh', '--name', 'nothing-here', '1', 'true')
    expect([rsh.exitCode, rsh.stderr]).toEqual([1, 'xc rsh: No cluster named nothing-here is running (start one with `xc start --name=nothing-here`)'])
    for (const cmd of [['rsh'], ['state'], ['cleanup'], ['stop_vm', '1']]) {
      const r = await xc(...cmd, '--name')
      expect(r.exitCode, cmd[0]).toBe(2)
      expect(r.stderr.split('\n')[0], cmd[0]).toMatch(/--name/)
    }
    const other = await xc('rsh', '--bogus', '1', 'true')
    expect(other.exitCode).toBe(2)
    expect(other.stderr.split('\n')[0]).toBe('xc rsh: unknown option `--bogus` (rsh takes only --name, before or right after N; the command is what follows)')
  })

  test('a name no cluster can have is the same problem as at start', async () => {
    for (const cmd of [['stop'], ['state'], ['cleanup'], ['rsh', '--name=a b', '1', 'true']]) {
      const r = await xc(...cmd, ...(cmd[0] === 'rsh' ? [] : ['--name=a b']))
      expect(r.exitCode, cmd[0]).toBe(1)
      expect(r.stderr, cmd[0]).toContain('Expected `name` to be 1-32 letters, digits, `-` or `_`, got `a b`')
    }
  })
})

interface State {
  id: string
  name: string
  dir: string
  keeper?: { pid: number }
  vms: Record<string, { process?: { pid: number } }>
  plan?: { id: string; vms: Array<{ name: string; num: number }> }
}

/** `xc state --name=name`, parsed. */
async function stateOf(name: string): Promise<State> {
  const r = await xc('state', `--name=${name}`)
  expect(r.exitCode, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as State
}

describe('xc state and xc cleanup on running and killed clusters', () => {
  const ids: Record<string, string> = {}
  beforeAll(async () => {
    const starts = await Promise.all([LIVE, DEAD].map((name) => xc('start', `--name=${name}`, '--nvm=1', '--nrouters=0', '--network=user')))
    for (const [i, name] of [LIVE, DEAD].entries()) {
      expect(starts[i].exitCode, starts[i].stderr).toBe(0)
      ids[name] = /^cluster \S+ \(([0-9a-f]{8})\) is up/.exec(starts[i].stdout)![1]
    }
  })

  test('state of a running cluster: its id, the QEMU pid of vm-001, its plan', async () => {
    const s = await stateOf(LIVE)
    expect(s).toMatchObject({ id: ids[LIVE], name: LIVE, dir: join(home, 'run', ids[LIVE]) })
    const pid = s.vms['vm-001']?.process?.pid
    expect(pid).toBeGreaterThan(0)
    expect(existsSync(`/proc/${pid}`)).toBe(true)
    expect(procCmdline(pid!)?.some((a) => a.includes(s.dir))).toBe(true)
    expect(s.plan?.vms.map((v) => v.name)).toEqual(['vm-001'])
  })

  test('xc ls (and xc status without a name, there being no cluster called default) lists both clusters: name, id, networking, VMs, age, owner', async () => {
    const ls = await xc('ls')
    expect(ls.exitCode, ls.stderr).toBe(0)
    const lines = ls.stdout.trimEnd().split('\n')
    expect(lines[0].split(/\s{2,}/)).toEqual(['NAME', 'ID', 'NETWORK', 'VMS', 'AGE', 'OWNER', 'STATE'])
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/)).sort()).toEqual(
      [LIVE, DEAD].sort().map((n) => [n, ids[n], 'user', '1/1', expect.stringMatching(/^\d+s$|^\d+m \d+s$/), 'detached', 'running']),
    )
    const json = JSON.parse((await xc('ls', '--json')).stdout) as Array<{ name: string; running: boolean; vms: number; vmsAlive: number }>
    expect(json.map((r) => [r.name, r.running, r.vmsAlive, r.vms]).sort()).toEqual([[DEAD, true, 1, 1], [LIVE, true, 1, 1]])
    const status = (await xc('status')).stdout.split('\n')
    expect(status[0]).toBe('no cluster named default; the clusters of this home (xc ls):')
    // The same table (the ages have moved on).
    const noAge = (l: string): string[] => l.split(/\s{2,}/).filter((_, i) => i !== 4)
    expect(status.slice(1).map(noAge)).toEqual(lines.map(noAge))
    // A name that does not run: the ones that do.
    const none = await xc('rsh', '--name=adm-lve', '1', 'true')
    expect([none.exitCode, none.stderr]).toEqual([1, `xc rsh: No cluster named adm-lve is running; running in this home: ${[DEAD, LIVE].sort().join(', ')} (xc ls). Or start one with \`xc start --name=adm-lve\``])
    expect((await xc('status', '--name=adm-lve')).stdout).toBe(`cluster adm-lve: none running; running in this home: ${[DEAD, LIVE].sort().join(', ')} (xc ls)`)
  })

  test('xc rsh takes --name before N or right after it (the command is what follows, or what follows --)', async () => {
    for (const args of [[`--name=${LIVE}`, '1'], ['1', `--name=${LIVE}`], ['1', '--name', LIVE], ['1', `--name=${LIVE}`, '--']]) {
      const r = await xc('rsh', ...args, 'cat', '/proc/cmdline')
      expect([r.exitCode, r.stderr], args.join(' ')).toEqual([0, ''])
    }
    // The command's own options stay its own, and `--` lets a command begin with --name.
    const own = await xc('rsh', '1', `--name=${LIVE}`, 'echo', '--name=x')
    expect([own.exitCode, own.stdout]).toEqual([0, '--name=x'])
    const dashed = await xc('rsh', `--name=${LIVE}`, '1', '--', '--name=x')
    expect(dashed.exitCode).toBe(127)
  })

  test("xc link N NET down|up takes a VM's link down and up (the guest sees its carrier); xc vm without a terminal says to use xc rsh", async () => {
    // eth1 is not up without std addresses: up first (the carrier is only readable then).
    const carrier = async (): Promise<string> => (await xc('rsh', `--name=${LIVE}`, '1', 'ip link set eth1 up && cat /sys/class/net/eth1/carrier')).stdout
    expect(await carrier()).toBe('1')
    const down = await xc('link', '1', '1', 'down', `--name=${LIVE}`)
    expect([down.exitCode, down.stdout], down.stderr).toEqual([0, 'vm-001 eth1 (net 1) down'])
    expect(await carrier()).toBe('0')
    const up = await xc('link', `--name=${LIVE}`, '1', '1', 'up')
    expect([up.exitCode, up.stdout], up.stderr).toEqual([0, 'vm-001 eth1 (net 1) up'])
    expect(await carrier()).toBe('1')
    const bad = await xc('link', `--name=${LIVE}`, '1', '7', 'down')
    expect([bad.exitCode, bad.stderr]).toEqual([1, 'xc link: vm-001 has no NIC on net 7 (its nets: 0, 1)'])
    const sideways = await xc('link', `--name=${LIVE}`, '1', '1', 'sideways')
    expect(sideways.exitCode).toBe(2)
    // execa's stdin is a pipe, not a terminal.
    const vm = await xc('vm', `--name=${LIVE}`, '1')
    expect([vm.exitCode, vm.stdout, vm.stderr]).toEqual([1, '', `xc vm: xc vm is an interactive shell and needs a terminal (stdin is not one); to run a command: xc rsh --name=${LIVE} 1 COMMAND...`])
  })

  test('cleanup --name removes only that dead cluster and lists it; the live one is untouched', async () => {
    const s = await stateOf(DEAD)
    const pids = [...Object.values(s.vms).map((v) => v.process?.pid), s.keeper?.pid]
    expect(pids.every((p) => p !== undefined && p > 0), JSON.stringify(pids)).toBe(true)
    // By the recorded pids only, each checked to be this cluster's (its argv names the state dir).
    for (const pid of pids as number[]) {
      expect(procCmdline(pid)?.some((a) => a.includes(s.dir)), `pid ${pid}`).toBe(true)
      process.kill(pid, 'SIGKILL')
    }
    await waitUntil(() => expect((pids as number[]).filter((p) => procAlive(p))).toEqual([]), { what: 'the killed processes gone', timeout: 10_000, interval: 50 })
    // xc ls shows it dead (and says what removes it), the other running.
    const ls = (await xc('ls')).stdout
    expect(ls).toMatch(new RegExp(`^${DEAD}\\s+${ids[DEAD]}\\s+user\\s+0/1\\s+\\S+( \\S+)?\\s+detached\\s+dead$`, 'm'))
    expect(ls).toMatch(new RegExp(`^${LIVE}\\s+.*running$`, 'm'))
    expect(ls).toContain('(dead: what a killed run left; `xc cleanup` removes it)')

    // A name with nothing dead: nothing removed; the dead cluster is still recorded.
    const none = await xc('cleanup', `--name=${LIVE}`)
    expect(none.exitCode, none.stderr).toBe(0)
    expect(none.stdout).toBe(`nothing to clean up of cluster ${LIVE} (it is running, id ${ids[LIVE]}: stop it with \`xc stop --name=${LIVE}\`)`)
    expect(existsSync(s.dir)).toBe(true)

    const r = await xc('cleanup', `--name=${DEAD}`)
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toBe(`cluster ${DEAD} (${ids[DEAD]}):`)
    expect(lines).toContain(`  removed state directory ${s.dir}`)
    expect(lines.slice(1).every((l) => l.startsWith('  removed '))).toBe(true)
    expect(await leftovers(home, [ids[DEAD]])).toEqual([])

    // Plain cleanup (every dead cluster) has nothing left to do, and leaves the live one alone.
    const all = await xc('cleanup')
    expect([all.exitCode, all.stdout]).toEqual([0, 'nothing to clean up'])
    const host = await xc('rsh', '--name', LIVE, '1', 'hostname')
    expect([host.exitCode, host.stdout]).toEqual([0, 'vm-001'])
    expect((await stateOf(LIVE)).id).toBe(ids[LIVE])
  })

  test('the live cluster stops, and nothing of either is left', async () => {
    const r = await xc('stop', `--name=${LIVE}`)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(await leftovers(home, Object.values(ids))).toEqual([])
  })
})
