// QEMU's side of a snapshot: saving a running VM (paused, its device state
// migrated to a file with x-ignore-shared, its RAM memfd copied out as a
// sparse file, then resumed) and loading one into a QEMU started with
// `-incoming defer` and the RAM file mapped copy-on-write.
import { readdirSync, readlinkSync } from 'node:fs'
import { execa } from 'execa'
import { SnapshotError } from '../../errors.ts'
import { waitFor } from '../../host/wait.ts'
import { shellQuote } from '../../pure/quote.ts'
import { QEMU } from '../../qemu/accel.ts'
import { qmp } from '../../qemu/qmp.ts'
import type { RunningVm } from '../running-vm.ts'

let qemuVersion: Promise<string> | undefined
/** QEMU's version line (a snapshot of one QEMU is not loaded by another). */
export function qemuVersionLine(): Promise<string> {
  qemuVersion ??= execa(QEMU, ['--version'], { reject: false }).then((r) => r.stdout.split('\n')[0] ?? '')
  return qemuVersion
}

/** QEMU migration skips RAM in a shared backend (the memfd): the device state alone goes to the state file, the RAM is copied out as a file. */
const IGNORE_SHARED = { execute: 'migrate-set-capabilities', arguments: { capabilities: [{ capability: 'x-ignore-shared', state: true }] } }

/** The /proc path of QEMU `pid`'s RAM memfd (memory-backend-memfd, which QEMU names after its type). */
function memfdPath(pid: number): string {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('/memfd:memory-backend-memfd')) return `/proc/${pid}/fd/${fd}`
    } catch {
      // closed meanwhile
    }
  }
  throw new SnapshotError('save', undefined, `QEMU ${pid} has no RAM memfd (was the VM started with snapshot: true?)`)
}

/** Bound on each monitor command of a save: 100 VMs saving on 2 cores answer slowly. */
const SAVE_QMP_MS = 60_000
/** VMs saved at once (each copies its RAM out: memory bandwidth and disk, not CPU). */
export const SAVE_CONCURRENCY = 4

/** Save one VM: no control session open, the VM paused, its device state migrated into `file` and its RAM copied to `ram` (holes kept), then resumed, also when the save fails. */
export async function saveVm(vm: RunningVm, file: string, ram: string): Promise<void> {
  await vm.closeChannel()
  await qmp(vm.record.qmp, [{ execute: 'stop' }], SAVE_QMP_MS)
  try {
    await qmp(vm.record.qmp, [IGNORE_SHARED, { execute: 'migrate', arguments: { uri: `exec:cat > ${shellQuote(file)}` } }], SAVE_QMP_MS)
    const done = await waitFor(async () => {
      const [info] = (await qmp(vm.record.qmp, [{ execute: 'query-migrate' }], SAVE_QMP_MS)) as Array<{ status?: string; 'error-desc'?: string }>
      if (info.status === 'failed' || info.status === 'cancelled') throw new SnapshotError('save', vm.name, `saving ${vm.name} failed: ${info['error-desc'] ?? info.status}`)
      return info.status === 'completed'
    }, { timeoutMs: 120_000, intervalMs: 20 })
    if (!done) throw new SnapshotError('save', vm.name, `saving ${vm.name} did not finish within 120 s`)
    await execa('cp', ['--sparse=always', memfdPath(vm.process.record.pid), ram])
  } finally {
    await qmp(vm.record.qmp, [{ execute: 'cont' }], SAVE_QMP_MS)
  }
}

/** Load VM state from `file` into a QEMU started with `-incoming defer` (and RAM from the snapshot's file): device state only, as it was saved. */
export async function loadState(qmpPath: string, file: string, alive: () => boolean, timeoutMs: number): Promise<void> {
  const commands = [IGNORE_SHARED, { execute: 'migrate-incoming', arguments: { uri: `exec:cat ${shellQuote(file)}` } }]
  // No socket file yet, or one bound a moment before QEMU listens: the connect fails before anything is sent, and is tried again.
  const sent = await waitFor(async () => {
    try {
      await qmp(qmpPath, commands)
      return true
    } catch (e) {
      if (/ECONNREFUSED|ENOENT/.test((e as Error).message)) return false
      throw e
    }
  }, { timeoutMs, intervalMs: 10, abort: () => !alive() })
  if (!sent) throw new SnapshotError('load', undefined, alive() ? `no QEMU monitor within ${timeoutMs} ms` : 'QEMU exited before its monitor was up')
}

/**
 * A VM saved while paused (as saveSnapshot does) is loaded paused: wait until
 * QEMU has loaded it, then let it run. Fails when QEMU exits or the load
 * does not end within `timeoutMs`.
 */
export async function resumeRestored(qmpPath: string, alive: () => boolean, timeoutMs: number): Promise<void> {
  let status: string | undefined
  const loaded = await waitFor(async () => {
    const [st] = (await qmp(qmpPath, [{ execute: 'query-status' }]).catch(() => [undefined])) as Array<{ status?: string } | undefined>
    status = st?.status
    return status === 'paused' || status === 'prelaunch' || status === 'running'
  }, { timeoutMs, intervalMs: 20, abort: () => !alive() })
  if (!loaded) throw new SnapshotError('load', undefined, alive() ? `the saved state did not load within ${timeoutMs} ms` : 'QEMU exited while loading the saved state')
  if (status !== 'running') await qmp(qmpPath, [{ execute: 'cont' }])
}
