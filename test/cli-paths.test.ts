// xc across processes and working directories: a cluster started with an
// overlay given by name (XCLUSTER_OVLPATH) and one given by a path relative
// to the starting directory grows by `xc scaleout` from elsewhere, with the
// same overlays; and a stop that fails says what failed in one line.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { leftovers, privateHome } from './helpers/host.ts'
import { skippedBecause } from './helpers/rights.ts'

const XC = fileURLToPath(new URL('../bin/xc.js', import.meta.url))
const isRoot = process.getuid?.() === 0
let home: string
let remove: () => Promise<void>
beforeAll(() => ({ home, remove } = privateHome()))
afterAll(async () => {
  await execa('chattr', ['-R', '-i', home], { reject: false })
  await remove()
})

function xc(args: string[], o: { cwd?: string; env?: Record<string, string> } = {}) {
  return execa(process.execPath, [XC, ...args], { reject: false, cwd: o.cwd, env: { XCLUSTER_HOME: home, XCLUSTER_OVLPATH: '', ...o.env }, extendEnv: true, timeout: 240_000 })
}

/** An overlay directory that writes `text` to /etc/`file` in the VM. */
function overlay(dir: string, file: string, text: string): void {
  mkdirSync(join(dir, 'etc'), { recursive: true })
  writeFileSync(join(dir, 'etc', file), text)
}

describe('xc scaleout keeps the overlays as start resolved them', () => {
  test('by name and by relative path, scaled out from another directory', async () => {
    const base = join(home, 'paths')
    overlay(join(base, 'ovls', 'by-name'), 'by-name', 'named\n')
    overlay(join(base, 'rel', 'by-path'), 'by-path', 'relative\n')
    const work = join(base, 'work')
    mkdirSync(work)
    const start = await xc(['start', '--name=paths', '--nvm=1', '--nrouters=0', 'by-name', '../rel/by-path'], { cwd: work, env: { XCLUSTER_OVLPATH: join(base, 'ovls') } })
    expect(start.exitCode, start.stderr).toBe(0)
    const id = /\(([0-9a-f]{8})\)/.exec(start.stdout)![1]
    // Another directory, no overlay search path: the recorded paths must hold.
    const out = await xc(['scaleout', '--name=paths', '2'], { cwd: '/' })
    expect(out.exitCode, out.stderr).toBe(0)
    for (const vm of ['1', '2']) {
      const r = await xc(['rsh', '--name=paths', vm, 'cat /etc/by-name /etc/by-path'], { cwd: '/' })
      expect([r.exitCode, r.stdout], r.stderr).toEqual([0, 'named\nrelative'])
    }
    const stop = await xc(['stop', '--name=paths'])
    expect(stop.exitCode, stop.stderr).toBe(0)
    expect(await leftovers(home, [id])).toEqual([])
  })
})

describe('a failing xc stop', () => {
  // chattr +i needs CAP_LINUX_IMMUTABLE: root.
  test.skipIf(!isRoot)(skippedBecause('prints one line that says what failed, no stack trace; cleanup finishes once the cause is gone', !isRoot, 'needs root: chattr +i needs CAP_LINUX_IMMUTABLE'), async () => {
    const start = await xc(['start', '--name=stuck', '--nvm=1', '--nrouters=0'])
    expect(start.exitCode, start.stderr).toBe(0)
    const id = /\(([0-9a-f]{8})\)/.exec(start.stdout)![1]
    const pinned = join(home, 'run', id, 'pinned')
    writeFileSync(pinned, 'cannot be removed\n')
    const chattr = await execa('chattr', ['+i', pinned], { reject: false })
    expect(chattr.exitCode, `chattr +i (an immutable file makes the state directory unremovable): ${chattr.stderr}`).toBe(0)

    const stop = await xc(['stop', '--name=stuck'])
    expect(stop.exitCode).toBe(1)
    const lines = stop.stderr.trimEnd().split('\n')
    expect(lines, stop.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(/^xc stop: teardown step "state directory, namespace and ports" failed: E[A-Z]+: .*pinned/)
    expect(stop.stderr).not.toMatch(/^\s+at /m)

    await execa('chattr', ['-i', pinned])
    const clean = await xc(['cleanup'])
    expect(clean.exitCode, clean.stderr).toBe(0)
    expect(clean.stdout).toContain(`cluster stuck (${id})`)
    expect(await leftovers(home, [id])).toEqual([])
  })
})
