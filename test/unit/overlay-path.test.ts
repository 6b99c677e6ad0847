import { afterAll, describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { overlaySearchPath, resolveOverlay } from '../../src/cluster/overlay-path.ts'
import { validateOptions } from '../../src/cluster/validate.ts'
import { ClusterConfigError } from '../../src/errors.ts'

describe('overlay search path', () => {
  const a = mkdtempSync(join(tmpdir(), 'ovl-a-'))
  const b = mkdtempSync(join(tmpdir(), 'ovl-b-'))
  mkdirSync(join(b, 'web'))
  mkdirSync(join(a, 'web'))
  writeFileSync(join(b, 'only-b.tar'), '')
  afterAll(() => {
    rmSync(a, { recursive: true, force: true })
    rmSync(b, { recursive: true, force: true })
  })

  it('a name stands for the first directory of that name in the path', () => {
    expect(resolveOverlay('web', [a, b])).toBe(join(a, 'web'))
    expect(resolveOverlay('web', [b, a])).toBe(join(b, 'web'))
  })

  it('a name may stand for a .tar of that name', () => {
    expect(resolveOverlay('only-b', [a, b])).toBe(join(b, 'only-b.tar'))
  })

  it('paths are left as they are; unknown names too', () => {
    expect(resolveOverlay('/x/web', [a])).toBe('/x/web')
    expect(resolveOverlay('nope', [a, b])).toBe('nope')
  })

  it('XCLUSTER_OVLPATH is the default path, colon-separated', () => {
    const old = process.env.XCLUSTER_OVLPATH
    process.env.XCLUSTER_OVLPATH = `${a}:${b}`
    try {
      expect(overlaySearchPath()).toEqual([a, b])
      expect(overlaySearchPath([b])).toEqual([b])
    } finally {
      if (old === undefined) delete process.env.XCLUSTER_OVLPATH
      else process.env.XCLUSTER_OVLPATH = old
    }
  })

  it('an unknown name is a listed problem that names the search path', () => {
    const err = (() => {
      try {
        validateOptions({ overlays: ['nope'], ovlPath: [a, b] })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ClusterConfigError)
    expect((err as ClusterConfigError).problems).toContain(`Overlay nope (in \`overlays\`) is not in the overlay search path (${a}:${b})`)
  })

  it('a name is looked up in the search path only, never in the current directory (./name is that)', () => {
    const cwd = process.cwd()
    const here = mkdtempSync(join(tmpdir(), 'ovl-cwd-'))
    mkdirSync(join(here, 'web'))
    mkdirSync(join(here, 'mine'))
    process.chdir(here)
    try {
      // A web in the current directory does not stand for the path's.
      expect(resolveOverlay('web', [a, b])).toBe(join(a, 'web'))
      const err = (() => {
        try {
          validateOptions({ overlays: ['mine'], ovlPath: [a] })
        } catch (e) {
          return e
        }
      })() as ClusterConfigError
      expect(err.problems).toContain(`Overlay mine (in \`overlays\`) is not in the overlay search path (${a}); ./mine is here: a name is looked up only in the search path, write ./mine for the one in the current directory`)
      expect(resolveOverlay('./mine', [a])).toBe('./mine')
    } finally {
      process.chdir(cwd)
      rmSync(here, { recursive: true, force: true })
    }
  })
})
