// The daemons a net-setup script starts through the harness ($XCLUSTER_SPAWN;
// here the cluster's own Open vSwitch, fixtures/net-setup/net-setup-ovs.sh)
// are the cluster's like its QEMUs: recorded before they start, they die
// with a test process killed by SIGKILL (at the moment the first is recorded,
// or once the cluster is up), cleanup ends them by their recorded pids when
// the reaper was killed too, and a detached cluster (xc start) keeps them
// until xc stop. A script's spawn request is checked; and ctx.spawn of a
// custom start and of a net-setup function records and ends its daemons too.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { cleanupDeadClusters, startCluster, HostCommandError, waitUntil } from '../src/index.ts'
import type { StateRecord } from '../src/host/state-dir.ts'
import { sameProcess } from '../src/host/proc.ts'
import { which } from '../src/host/which.ts'
import { NET_SETUP_OVS } from '../fixtures/index.ts'
import { leftovers, privateHome, processesNaming, watchClusterIds } from './helpers/host.ts'
import { canBridge, NEEDS_BRIDGE_RIGHTS } from './helpers/rights.ts'

const CHILD = fileURLToPath(new URL('./helpers/start-ovs-and-wait.ts', import.meta.url))
const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
// Measured at load: bridge mode needs its rights, and OVS its programs (npm run setup installs openvswitch-switch).
const ovsMissing = !which('ovs-vswitchd') || !which('ovsdb-server')
const skipWhy = !canBridge ? NEEDS_BRIDGE_RIGHTS : ovsMissing ? 'ovs-vswitchd or ovsdb-server not found (npm run setup installs openvswitch-switch)' : ''

let home: string
let remove: () => Promise<void>
beforeAll(() => ({ home, remove } = privateHome()))
afterAll(async () => {
  await execa(process.execPath, [XC, 'stop', '--name=ovs-detached'], { reject: false, env: { XCLUSTER_HOME: home } })
  await remove()
})

/** The state of cluster `id` in the private home, or undefined. */
function stateOf(id: string): StateRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(home, 'run', id, 'state.json'), 'utf8')) as StateRecord
  } catch {
    return undefined
  }
}

/** Start the OVS cluster in a child, SIGKILL it once `ready(state)` holds (and its reaper with `reaper`); its id and the daemons recorded then. */
async function killWhen(ready: (s: StateRecord) => boolean, reaper = false): Promise<{ id: string; state: StateRecord }> {
  const before = new Set(existsSync(join(home, 'run')) ? readdirSync(join(home, 'run')) : [])
  const child = execa(process.execPath, ['--import', 'tsx', CHILD, home, '2'], { reject: false, stdio: 'ignore' })
  // Checked every 5 ms: the kill is to land at the moment the state shows what `ready` looks for.
  const hit = await waitUntil(() => {
    for (const id of existsSync(join(home, 'run')) ? readdirSync(join(home, 'run')).filter((d) => /^[0-9a-f]{8}$/.test(d) && !before.has(d)) : []) {
      const s = stateOf(id)
      if (s && ready(s)) return { id, state: s }
    }
    return false
  }, { what: 'the state the kill waits for', timeout: 120_000, interval: 5 }).catch(() => undefined)
  if (reaper && hit?.state.reaper) process.kill(hit.state.reaper.pid, 'SIGKILL')
  child.kill('SIGKILL')
  await child
  if (!hit) throw new Error('the child never got there')
  return hit
}

describe.skipIf(!!skipWhy)(skipWhy ? `net-setup daemons (skipped: ${skipWhy})` : 'net-setup daemons', () => {
  test('SIGKILL at the moment ovsdb-server is recorded: nothing outlives the owner', async () => {
    const { id } = await killWhen((s) => (s.daemons?.length ?? 0) >= 1)
    await waitUntil(() => expect(processesNaming(join(home, 'run', id))).toEqual([]), { what: 'no process naming the state directory', timeout: 5000, interval: 50 })
    await waitUntil(async () => expect(await leftovers(home, [id])).toEqual([]), { what: 'nothing of the cluster left', timeout: 20_000, interval: 50 })
  })

  test('SIGKILL of the owner and its reaper once up: the daemons die with the owner, cleanup removes the rest by record', async () => {
    const { id, state } = await killWhen((s) => (s.daemons ?? []).filter((d) => d.pid).length === 2 && Object.values(s.vms).filter((v) => v.process).length === 2, true)
    expect(state.daemons!.map((d) => d.name)).toEqual(['ovsdb-server', 'ovs-vswitchd'])
    await waitUntil(() => state.daemons!.every((d) => !sameProcess(d.pid!, d.startTime)), { what: 'the daemons gone with their owner', timeout: 5000, interval: 50 })
    const reports = await cleanupDeadClusters(home)
    expect(reports.map((r) => r.id)).toEqual([id])
    expect(await leftovers(home, [id])).toEqual([])
  })

  test('a detached cluster (xc start) keeps its OVS after xc exits; xc stop ends it', async () => {
    const env = { XCLUSTER_HOME: home }
    const start = await execa(process.execPath, [XC, 'start', '--name=ovs-detached', '--nvm=2', '--nrouters=0', '--network=bridge', `--net-setup=${NET_SETUP_OVS}`], { reject: false, env, timeout: 240_000 })
    expect(start.exitCode, start.stderr).toBe(0)
    const id = /\(([0-9a-f]{8})\)/.exec(start.stdout)![1]
    const daemons = stateOf(id)!.daemons!
    expect(daemons.map((d) => [d.name, sameProcess(d.pid!, d.startTime)])).toEqual([['ovsdb-server', true], ['ovs-vswitchd', true]])
    const ping = await execa(process.execPath, [XC, 'rsh', '--name=ovs-detached', '1', 'ping -c1 -W2 192.168.0.2'], { reject: false, env })
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0)
    const stop = await execa(process.execPath, [XC, 'stop', '--name=ovs-detached'], { reject: false, env })
    expect(stop.exitCode, stop.stderr).toBe(0)
    expect(daemons.every((d) => !sameProcess(d.pid!, d.startTime))).toBe(true)
    expect(await leftovers(home, [id])).toEqual([])
  })

  test('a bad spawn request from a script is refused with the reason, and fails the start naming it; nothing is left', async () => {
    const ids = watchClusterIds(home)
    const err = await startCluster({
      home, name: 'bad-spawn', nvm: 1, nrouters: 0,
      network: { base: 'bridge', netSetup: join(fileURLToPath(new URL('../fixtures/net-setup/', import.meta.url)), 'net-setup-bad-spawn.sh') },
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(HostCommandError)
    expect((err as Error).message).toContain("xc-spawn bad/name: Expected a daemon name of letters, digits, '_', '.' and '-'")
    expect(ids().size).toBe(1)
    expect(await leftovers(home, ids())).toEqual([])
  })
})

describe('daemons of a custom start and of a net-setup function', () => {
  test('ctx.spawn in a start function and in a net-setup function: recorded, running, ended by stop (their argv need not name the state directory)', async () => {
    const pids: number[] = []
    const cluster = await startCluster({
      home, name: 'spawns', nvm: 1, nrouters: 0,
      network: {
        base: 'user',
        netSetup: async (vm, net, ctx) => {
          if (net === 1) pids.push(await ctx.spawn('hook-sleeper', ['sleep', '600']))
          return undefined
        },
      },
      start: async (ctx) => {
        pids.push(await ctx.spawn('start-sleeper', ['sleep', '601']))
        await ctx.boot()
      },
    })
    const recorded = cluster.state.state.daemons ?? []
    try {
      expect(recorded.map((d) => [d.name, d.argv.at(-1), d.log])).toEqual([
        ['start-sleeper', '601', join(cluster.stateDir, 'start-sleeper.log')],
        ['hook-sleeper', '600', join(cluster.stateDir, 'hook-sleeper.log')],
      ])
      expect(recorded.map((d) => d.pid)).toEqual(pids)
      expect(recorded.every((d) => sameProcess(d.pid!, d.startTime))).toBe(true)
    } finally {
      await cluster.stop()
    }
    expect(recorded.some((d) => sameProcess(d.pid!, d.startTime))).toBe(false)
    expect(await leftovers(home, [cluster.id])).toEqual([])
  })
})
