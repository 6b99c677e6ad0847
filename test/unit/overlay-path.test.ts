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
    expect((err as ClusterConfigError).problems).toContain(`Overlay nope (in \`overlays\`) does not exist here nor in the overlay search path (${a}:${b})`)
  })
})
