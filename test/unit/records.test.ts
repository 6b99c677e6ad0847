// Records written whole (writeFileDurable), read or found damaged
// (readRecord), and the sweep of temporaries whose maker is gone: on real
// files in a temporary directory.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DiskWriteError } from '../../src/errors.ts'
import { sweepDeadTemps } from '../../src/host/damaged.ts'
import { writeFileDurable } from '../../src/host/durable.ts'
import { readRecord, scanStates } from '../../src/host/state-dir.ts'

const root = mkdtempSync(join(tmpdir(), 'xc-unit-records-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** A pid that is gone: a process that has exited. */
const deadPid = Number(execFileSync('sh', ['-c', 'echo $$']).toString().trim())

const record = (id: string, dir: string) => ({ version: 1, id, name: 'c', dir, createdAt: '', owner: { pid: 1 }, detached: false, network: 'user', vms: {} })

describe('writeFileDurable', () => {
  it('replaces the file whole and leaves no temporary beside it', () => {
    const f = join(root, 'a.json')
    writeFileDurable(f, 'one\n')
    writeFileDurable(f, Buffer.from('two\n'))
    expect(readFileSync(f, 'utf8')).toBe('two\n')
    expect(readdirSync(root).filter((n) => n.includes('a.json'))).toEqual(['a.json'])
  })

  it('fails with a DiskWriteError naming the file, and nothing is written', () => {
    const f = join(root, 'no-such-dir', 'b.json')
    let err: unknown
    try {
      writeFileDurable(f, 'x')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(DiskWriteError)
    expect(err).toMatchObject({ path: f, code: 'ENOENT' })
    expect(existsSync(join(root, 'no-such-dir'))).toBe(false)
  })
})

describe('readRecord', () => {
  const run = join(root, 'home', 'run')
  const dir = (id: string): string => {
    mkdirSync(join(run, id), { recursive: true })
    return join(run, id)
  }

  it('reads a whole record, its dir the directory it is in', () => {
    const d = dir('0000000a')
    writeFileSync(join(d, 'state.json'), JSON.stringify(record('0000000a', '/elsewhere')))
    expect(readRecord(d)).toEqual({ record: { ...record('0000000a', d) } })
  })

  it('says why a record is damaged: missing, cut short, garbage, JSON that is not its record', () => {
    const missing = dir('0000000b')
    expect(readRecord(missing)).toEqual({ damaged: 'its record state.json cannot be read (ENOENT)' })
    const torn = dir('0000000c')
    writeFileSync(join(torn, 'state.json'), JSON.stringify(record('0000000c', torn)).slice(0, 40))
    expect(readRecord(torn)).toMatchObject({ damaged: expect.stringMatching(/^its record state.json is not whole JSON \(40 bytes: .+\)$/) })
    const garbage = dir('0000000d')
    writeFileSync(join(garbage, 'state.json'), Buffer.from([0xff, 0x00, 0x7b, 0x80]))
    expect(readRecord(garbage)).toMatchObject({ damaged: expect.stringMatching(/^its record state.json is not whole JSON \(4 bytes: [\x20-\x7e]+\)$/) })
    const other = dir('0000000e')
    const otherText = JSON.stringify(record('0000000f', other))
    writeFileSync(join(other, 'state.json'), otherText)
    expect(readRecord(other)).toEqual({ damaged: `its record state.json is JSON but not a cluster record of 0000000e (${otherText.length} bytes)` })
    writeFileSync(join(other, 'state.json'), 'null')
    expect(readRecord(other)).toEqual({ damaged: 'its record state.json is JSON but not a cluster record of 0000000e (4 bytes)' })
  })

  it('scanStates lists the whole ones and the damaged ones, and nothing else under run/', () => {
    mkdirSync(join(run, `.new-00000010-${deadPid}`))
    const { states, damaged } = scanStates(join(root, 'home'))
    expect(states.map((s) => s.id)).toEqual(['0000000a'])
    expect(damaged.map((d) => d.id).sort()).toEqual(['0000000b', '0000000c', '0000000d', '0000000e'])
  })
})

describe('sweepDeadTemps', () => {
  it('removes the temporaries whose maker is gone, and keeps those of a live one', () => {
    const home = join(root, 'sweep')
    const layers = join(home, 'packages', 'layers')
    mkdirSync(join(home, 'run'), { recursive: true })
    mkdirSync(join(home, 'snapshots'), { recursive: true })
    mkdirSync(layers, { recursive: true })
    const dead = [
      join(home, 'run', `.new-0000000a-${deadPid}`),
      join(home, 'run', `.gone-0000000b-${deadPid}`),
      join(home, 'snapshots', `.tmp-abcdef-${deadPid}`),
      join(layers, `0123456789abcdef.ext4.tmp-${deadPid}`),
      join(layers, `0123456789abcdef.ext4.tmp-${deadPid}.build-Ab12Cd`),
      join(layers, `.0123456789abcdef.json.${deadPid}.a1b2c3.tmp`),
    ]
    const live = [join(home, 'run', `.new-0000000c-${process.pid}`), join(home, 'snapshots', `.tmp-abcdef-${process.pid}`), join(layers, '0123456789abcdef.ext4')]
    for (const p of [...dead, ...live]) mkdirSync(p)
    expect(sweepDeadTemps(home).sort()).toEqual([...dead].sort())
    expect(live.every((p) => existsSync(p))).toBe(true)
  })
})
