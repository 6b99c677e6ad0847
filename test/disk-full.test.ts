// A full disk, for real: the home on a small tmpfs, filled to the last byte
// at a step of a start, of a stop, of a snapshot save and of a package layer
// build. Each either works or fails with a DiskWriteError, and leaves
// nothing running or half-written: no QEMU, namespace, port lock, state
// directory, temporary file, snapshot or layer of it. Mounting a tmpfs
// needs root (the tests run as root in CI).
import { withDirLock } from '../src/host/dir-lock.ts'
import { basename, join } from 'node:path'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { execa } from 'execa'
import { afterAll, describe, test, type ExpectStatic } from 'vitest'
import { DiskWriteError, startCluster, type RunningCluster, type StartContext } from '../src/index.ts'
import { imagePaths, xclusterHome } from '../src/host/home.ts'
import { removeDamagedCluster } from '../src/host/damaged.ts'
import { removeClusterResources } from '../src/host/cleanup.ts'
import { scanStates } from '../src/host/state-dir.ts'
import { aptRoot } from '../src/packages/apt.ts'
import { packageLayer } from '../src/packages/layer.ts'
import { leftovers, processesNaming } from './helpers/host.ts'
import { NEEDS_ROOT_NAMESPACES, canRootBridge, skippedBecause } from './helpers/rights.ts'

const isRoot = process.getuid?.() === 0
const NEEDS_ROOT = 'needs root (a home on a tmpfs of its own: mount -t tmpfs)'

/** A home on a tmpfs of `mb` MiB, with the built image linked in; fill() takes every byte left, free() gives them back. */
async function tmpfsHome(mb: number) {
  const home = mkdtempSync(join(tmpdir(), 'xc-full-'))
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${mb}m,mode=0700`, 'xc-full', home])
  symlinkSync(imagePaths(xclusterHome()).dir, join(home, 'image'))
  const filler = join(home, 'filler')
  return {
    home,
    fill(): void {
      const fd = openSync(filler, 'a')
      try {
        for (const size of [1 << 20, 4096]) {
          try {
            for (;;) writeSync(fd, Buffer.alloc(size))
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e
          }
        }
      } finally {
        closeSync(fd)
      }
    },
    free(): void {
      rmSync(filler, { force: true })
    },
    /** Remove what is recorded there (a failed test's), then unmount. */
    async remove(): Promise<void> {
      rmSync(filler, { force: true })
      const { states, damaged } = scanStates(home)
      for (const s of states) await removeClusterResources(home, s).catch(() => {})
      for (const d of damaged) await removeDamagedCluster(home, d).catch(() => {})
      // A QEMU just killed may hold its files open for a moment.
      for (let i = 0; i < 50 && (await execa('umount', [home], { reject: false })).exitCode !== 0; i++) await new Promise((r) => setTimeout(r, 100))
      if (existsSync(join(home, 'image'))) await execa('umount', ['-l', home], { reject: false })
      rmdirSync(home)
    },
  }
}

const mounts: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const remove of mounts) await remove()
})
async function newHome(mb = 32) {
  const t = await tmpfsHome(mb)
  mounts.push(() => t.remove())
  return t
}

/** Nothing of `home` left: no cluster directory or temporary one under run/, no process naming the home (but the owner's reaper), and nothing of `ids`. */
async function nothingLeft(expect: ExpectStatic, home: string, ids: string[]): Promise<void> {
  expect(await leftovers(home, ids)).toEqual([])
  expect(readdirSync(join(home, 'run'))).toEqual([])
  expect(processesNaming(join(home, 'run'))).toEqual([])
}

// Each test has a tmpfs of its own: they run at once.
describe.skipIf(!isRoot).concurrent(skippedBecause('a home whose disk fills', !isRoot, NEEDS_ROOT), () => {
  test('full before the start: a DiskWriteError naming the record, and nothing at all', async ({ expect }) => {
    const t = await newHome()
    t.fill()
    const err = await startCluster({ home: t.home, name: 'full-first', nvm: 1, nrouters: 0 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiskWriteError)
    expect(err).toMatchObject({ code: 'ENOSPC' })
    expect((err as Error).message).toMatch(new RegExp(`^could not write ${t.home}/run/[0-9a-f]{8}/state.json: the disk is full \\(ENOSPC\\)`))
    await nothingLeft(expect, t.home, [])
  })

  // Bridge mode: the namespace and its relay are up when the disk fills.
  test.skipIf(!canRootBridge)(skippedBecause('full once the network is up (bridge mode): a DiskWriteError, and the namespace, relay, port block and directory are gone', !canRootBridge, NEEDS_ROOT_NAMESPACES), async ({ expect }) => {
    const t = await newHome()
    let id = ''
    const start = async (ctx: StartContext): Promise<void> => {
      await ctx.prepareNetwork()
      id = ctx.clusterId
      t.fill()
      await ctx.boot()
    }
    const err = await startCluster({ home: t.home, name: 'full-net', network: 'bridge', rootless: false, nvm: 1, nrouters: 0, start }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DiskWriteError)
    expect((err as DiskWriteError).message).toContain('the disk is full (ENOSPC)')
    expect(id).toMatch(/^[0-9a-f]{8}$/)
    await nothingLeft(expect, t.home, [id])
  })

  test('full as QEMU starts, then during the stop: the start works or fails with a DiskWriteError; the stop works; nothing left', async ({ expect }) => {
    const t = await newHome()
    let c: RunningCluster | undefined
    const ids: string[] = []
    const err = await startCluster({
      home: t.home, name: 'full-boot', nvm: 1, nrouters: 0,
      onProgress: (e) => {
        if (e.kind === 'booting') t.fill()
      },
    }).then((x) => void (c = x), (e: unknown) => e)
    for (const d of readdirSync(join(t.home, 'run'))) if (/^[0-9a-f]{8}$/.test(d)) ids.push(d)
    if (c) {
      // It booted on a full disk (QEMU had written its pid file): it answers, and stops on a full disk.
      ids.push(c.id)
      expect(await c.vm(1).run('hostname')).toBe('vm-001\n')
      await c.stop()
    } else {
      // QEMU could not write its pid file: the start says the disk is full.
      expect(err, String(err)).toBeInstanceOf(DiskWriteError)
    }
    await nothingLeft(expect, t.home, ids)
  })

  test('full during the stop of a running cluster: the stop works, nothing left', async ({ expect }) => {
    const t = await newHome()
    const c = await startCluster({ home: t.home, name: 'full-stop', nvm: 1, nrouters: 0 })
    t.fill()
    await c.stop()
    await nothingLeft(expect, t.home, [c.id])
  })

  test('full during the snapshot save: the cluster runs without one and says why; no snapshot or temporary of it is left', async ({ expect }) => {
    const t = await newHome()
    const c = await startCluster({
      home: t.home, name: 'full-save', nvm: 1, nrouters: 0, snapshot: true,
      onProgress: (e) => {
        if (e.kind === 'ready') t.fill()
      },
    })
    try {
      expect(c.snapshot).toMatchObject({ saved: false, restored: false })
      expect(c.snapshot!.saveFailed).toMatch(/ENOSPC|no space left/i)
      expect(await c.vm(1).run('hostname')).toBe('vm-001\n')
      expect(existsSync(join(t.home, 'snapshots')) ? readdirSync(join(t.home, 'snapshots')).filter((n) => n !== '.lock') : []).toEqual([])
    } finally {
      await c.stop()
    }
    await nothingLeft(expect, t.home, [c.id])
  })

  test('full during a package layer build: a DiskWriteError, no layer, temporary or record of it; with space again it builds', async ({ expect }) => {
    // The package lists and .deb files are the shared home's (on disk); the layers are built on the tmpfs.
    const shared = xclusterHome()
    const root = aptRoot(shared)
    const lock = join(shared, 'packages', '.lock')
    if (!existsSync(lock)) closeSync(openSync(lock, 'a'))
    const t = await newHome(96)
    mkdirSync(join(t.home, 'packages'))
    symlinkSync(root.dir, join(t.home, 'packages', basename(root.dir)))
    // The shared home's lock held around each build here: the same lists are used (a lock file is never taken through a link).
    let filled = false
    const err = await withDirLock(lock, () => packageLayer(t.home, ['hello'], {
      log: (line) => {
        if (line.includes('building the layer') && !filled) {
          filled = true
          t.fill()
        }
      },
    })).catch((e: unknown) => e)
    expect(filled, `the layer was built, not found cached: ${String(err)}`).toBe(true)
    expect(err).toBeInstanceOf(DiskWriteError)
    expect((err as Error).message).toMatch(/^could not write .*\/packages\/layers\/[0-9a-f]{16}\.ext4\.tmp-\d+: the disk is full \(ENOSPC\)/)
    expect(readdirSync(join(t.home, 'packages', 'layers'))).toEqual([])
    expect(readdirSync(join(t.home, 'packages', 'sets'))).toEqual([])
    t.free()
    const layer = await withDirLock(lock, () => packageLayer(t.home, ['hello']))
    expect(layer.cached).toBe(false)
    // The layer and its record (and the cache's own marks of its use), no temporary.
    const names = readdirSync(join(t.home, 'packages', 'layers'))
    expect(names).toEqual(expect.arrayContaining([basename(layer.path), basename(layer.path).replace(/\.ext4$/, '.json')]))
    expect(names.filter((n) => /\.tmp-|\.build-/.test(n)), names.join(' ')).toEqual([])
  })
})
