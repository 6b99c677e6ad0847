// xcluster's hook from the command line: XCLUSTER_HOOK names a module of
// start functions, and `xc mystart` starts a cluster by its `mystart` as xc
// start would (options, detached lifetime), here the README's custom start
// (a net between the routers), then `xc rsh` across it. Bad use: a function
// the hook does not export (the error lists those it does), no such file, an
// onStop in a detached start.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { leftovers, privateHome, watchClusterIds } from './helpers/host.ts'
import { canBridge, NEEDS_BRIDGE_RIGHTS } from './helpers/rights.ts'

const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
const HOOK = fileURLToPath(new URL('../experiments/custom-start/xcluster-hook.ts', import.meta.url))
let home: string
let remove: () => Promise<void>
beforeAll(() => ({ home, remove } = privateHome()))
afterAll(async () => {
  await xc(HOOK, 'stop', '--name=hook')
  await remove()
})

/** `xc args...` in a fresh process (plain node, the built CLI) with the private home and XCLUSTER_HOOK=`hook`. */
function xc(hook: string, ...args: string[]) {
  return execa(process.execPath, [XC, ...args], { reject: false, env: { XCLUSTER_HOME: home, XCLUSTER_HOOK: hook }, timeout: 240_000 })
}

describe.skipIf(!canBridge)(canBridge ? 'xc mystart' : `xc mystart (skipped: ${NEEDS_BRIDGE_RIGHTS})`, () => {
  test("the README's custom start from the command line: a net between the routers, reached with xc rsh; it outlives xc until xc stop", async () => {
    const start = await xc(HOOK, 'mystart', '--name=hook', '--network=bridge', '--nvm=1', '--nrouters=2', '--std-addresses=yes')
    expect(start.exitCode, start.stderr).toBe(0)
    expect(start.stdout).toMatch(/^cluster hook \(([0-9a-f]{8})\) is up \(started by .*xcluster-hook\.ts:mystart\): vm-001 vm-201 vm-202$/)
    const id = /\(([0-9a-f]{8})\)/.exec(start.stdout)![1]
    // Detached: the keeper keeps it after xc mystart has exited.
    const status = JSON.parse((await xc(HOOK, 'status', '--name=hook', '--json')).stdout)
    expect(status).toMatchObject({ running: true, id, network: 'bridge' })
    const across = await xc(HOOK, 'rsh', '--name=hook', '201', 'ping -c1 -W2 192.168.3.202')
    expect(across.exitCode, across.stdout + across.stderr).toBe(0)
    expect((await xc(HOOK, 'rsh', '--name=hook', '202', 'cat /sys/class/net/eth3/address')).stdout).toBe('00:00:00:01:03:ca')
    // The node has no NIC on net 3.
    expect((await xc(HOOK, 'rsh', '--name=hook', '1', 'ls /sys/class/net/eth2')).exitCode).not.toBe(0)
    const stop = await xc(HOOK, 'stop', '--name=hook')
    expect(stop.exitCode, stop.stderr).toBe(0)
    expect(await leftovers(home, [id])).toEqual([])
  })

  test('an onStop in a start by xc is refused by name (xc stop is another process), and nothing is left', async () => {
    const ids = watchClusterIds(home)
    const r = await xc(HOOK, 'withundo', '--name=undo', '--network=bridge', '--nvm=1', '--nrouters=0')
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain('xc withundo: onStop("undo"): cluster undo is started by xc, which exits once it is up')
    expect(r.stderr).toContain('ctx.spawn()')
    expect(await leftovers(home, ids())).toEqual([])
  })
})

describe('bad use of XCLUSTER_HOOK', () => {
  test('a function the hook does not export: the error lists those it does (a .mjs hook, plain node); nothing starts', async () => {
    const hook = join(home, 'hook.mjs')
    writeFileSync(hook, 'export async function mystart(ctx) { await ctx.boot() }\nexport function cmd_other() {}\nexport const notAFunction = 1\n')
    const ids = watchClusterIds(home)
    const r = await xc(hook, 'nosuch')
    expect(r.exitCode).toBe(1)
    expect(r.stderr.trim()).toBe(`xc nosuch: XCLUSTER_HOOK=${hook} exports no function \`nosuch\` or \`cmd_nosuch\`; its functions: cmd_other, mystart. \`xc nosuch\` runs the hook's start function of that name (xc's own commands: xc --help)`)
    expect(ids().size).toBe(0)
  })

  test('no such hook file; and without XCLUSTER_HOOK an unknown name stays an unknown command', async () => {
    const missing = join(home, 'nope.mjs')
    const r = await xc(missing, 'mystart')
    expect([r.exitCode, r.stderr.trim()]).toEqual([1, `xc mystart: XCLUSTER_HOOK=${missing}: no such file`])
    const plain = await execa(process.execPath, [XC, 'mystart'], { reject: false, env: { XCLUSTER_HOME: home, XCLUSTER_HOOK: '' } })
    expect([plain.exitCode, plain.stderr.split('\n')[0]]).toEqual([2, 'xc: unknown command `mystart`'])
  })

  test('--help of a hook command says where it comes from, without loading the hook', async () => {
    const r = await xc(join(home, 'nope.mjs'), 'mystart', '--help')
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('Start a cluster by the start function `mystart` (or `cmd_mystart`) of XCLUSTER_HOOK=')
  })
})
