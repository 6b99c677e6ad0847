// Clusters from snapshots (`snapshot: true`): the first start of a
// configuration boots cold (guest RAM in a shared memfd) and saves every VM
// at its ready point: its device state by QEMU's migration (x-ignore-shared:
// without the RAM) and its RAM copied out as a sparse file. Later starts of
// the same configuration map that file copy-on-write as the RAM of a QEMU
// started with `-incoming defer`, load the device state, and then give the
// restored guest what is this cluster's own (secret, id, ssh keys), the
// host's clock and fresh randomness. The key covers what makes a VM what it
// is; a snapshot under another key is never used. Under
// XCLUSTER_HOME/snapshots/<key>/.
import { createHash, randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { shellQuote } from '../plan/quote.ts'
import type { ShellChannel } from '../control/shell-channel.ts'
import { clusterKeys } from '../control/ssh-keys.ts'
import { vmLoginKey } from '../control/login.ts'
import { withDirLock } from '../host/dir-lock.ts'
import { fsyncDir, writeFileDurable } from '../host/durable.ts'
import { snapshotsDir } from '../host/home.ts'
import { waitFor } from '../host/wait.ts'
import { readSecret } from '../host/state-dir.ts'
import { QEMU } from '../qemu/accel.ts'
import { qmp } from '../qemu/qmp.ts'
import type { StateDir } from '../host/state-dir.ts'
import type { ImageManifest } from '../image/build-image.ts'
import type { PackageLayer } from '../packages/layer.ts'
import type { ClusterPlan } from '../plan/plan.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import { mapLimit } from './admission.ts'
import { clusterEnv, envFile, initrdKey } from './initrd.ts'
import type { RunningVm } from './running-vm.ts'

export interface SnapshotMeta {
  version: 1
  key: string
  /** The cluster name it was saved from (for xc snapshot list). */
  name: string
  createdAt: string
  usedAt: string
  /** Per VM, the secret of the cluster that saved it: a restored VM's telnet login asks for it until it is re-keyed. */
  secrets: Record<string, string>
  qemu: string
  vms: string[]
  bytes: number
  /** Set (in a listing only) when the snapshot's meta.json cannot be read: why. It is never restored from; prune removes it. */
  damaged?: string
}

/** What of a cluster's boot context snapshots use (BootContext has it all). */
export interface SnapshotContext {
  spec: ClusterSpec
  state: StateDir
  plan: ClusterPlan
  accel: 'kvm' | 'tcg'
  image: () => Promise<ImageManifest>
  layer: (vm: number) => Promise<PackageLayer | undefined>
  initrd: string
}

/** A snapshot found for a start: its directory and what it says of itself. */
export interface Snapshot {
  dir: string
  meta: SnapshotMeta
}

/** The default bound on the snapshots of a home, MiB (XCLUSTER_SNAPSHOT_MAX_MB). */
export const SNAPSHOT_MAX_MB = 8192

export { snapshotsDir }

let qemuVersion: Promise<string> | undefined
/** QEMU's version line (a snapshot of one QEMU is not loaded by another). */
export function qemuVersionLine(): Promise<string> {
  qemuVersion ??= execa(QEMU, ['--version'], { reject: false }).then((r) => r.stdout.split('\n')[0] ?? '')
  return qemuVersion
}

/**
 * The snapshot key of the cluster `ctx` is about to boot: QEMU's version, the
 * image (kernel, base initramfs, tools), each VM's package layer, each VM's
 * machine (memory, CPUs, kernel command line, NICs and MACs, host), the
 * networking, accel and translation cache, and the initramfs segment with
 * its overlays' content, without what is each cluster's own.
 */
export async function snapshotKey(ctx: SnapshotContext): Promise<string> {
  const image = await ctx.image()
  const layers = await Promise.all(ctx.plan.vms.map(async (v) => (await ctx.layer(v.num))?.path ?? null))
  const machines = ctx.plan.vms.map((v) => ({ num: v.num, mem: v.mem, smp: v.smp, append: v.append, host: v.host ?? null, nics: v.nics.map((n) => [n.ifname, n.net, n.mac]) }))
  const h = createHash('sha256')
  h.update(JSON.stringify({ v: 3, qemu: await qemuVersionLine(), image, layers, machines, network: ctx.spec.network, accel: ctx.accel, tbSize: ctx.spec.tbSize ?? null, tools: ctx.spec.tools }))
  h.update(await initrdKey(ctx.spec, ctx.plan, image, ctx.state))
  return h.digest('hex').slice(0, 24)
}

/** The file of VM `vm`'s RAM in snapshot directory `dir` (sparse: pages never written are holes). */
export function ramFile(dir: string, vm: string): string {
  return join(dir, `${vm}.ram`)
}

/** QEMU migration skips RAM in a shared backend (the memfd): the device state alone goes to the state file, the RAM is copied out as a file. */
const IGNORE_SHARED = { execute: 'migrate-set-capabilities', arguments: { capabilities: [{ capability: 'x-ignore-shared', state: true }] } }

/** The file of VM `vm`'s saved state in snapshot directory `dir`. */
export function stateFile(dir: string, vm: string): string {
  return join(dir, `${vm}.state`)
}

function readMeta(dir: string): SnapshotMeta | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as SnapshotMeta
    return m && typeof m === 'object' && typeof m.key === 'string' && Array.isArray(m.vms) && typeof m.usedAt === 'string' ? m : undefined
  } catch {
    return undefined
  }
}

/** What a listing says of a snapshot directory whose meta cannot be read: its key (the directory's name) and the disk its files take. */
function damagedMeta(dir: string): SnapshotMeta {
  const key = dir.split('/').at(-1)!
  let bytes = 0
  try {
    for (const f of readdirSync(dir)) bytes += statSync(join(dir, f)).blocks * 512
  } catch {
    // removed meanwhile
  }
  const why = existsSync(join(dir, 'meta.json')) ? 'its meta.json cannot be read' : 'it has no meta.json'
  return { version: 1, key, name: '?', createdAt: '', usedAt: '', secrets: {}, qemu: '', vms: [], bytes, damaged: why }
}

/** The snapshot under `key`, when its meta and initrd are there and it has every VM of `vms` (each VM's files are looked for when it boots); its use is recorded. */
export function findSnapshot(home: string, key: string, vms: string[]): Snapshot | undefined {
  const dir = join(snapshotsDir(home), key)
  const meta = readMeta(dir)
  if (!meta || meta.key !== key || !meta.secrets || !existsSync(join(dir, 'initrd'))) return undefined
  if (!vms.every((vm) => meta.vms.includes(vm))) return undefined
  meta.usedAt = new Date().toISOString()
  try {
    writeFileDurable(join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n')
  } catch {
    // The time of use orders the pruning only: on a full disk the old meta stays, whole.
  }
  return { dir, meta }
}

/** Every snapshot of `home`, newest use first; the damaged (meta unreadable) last. */
export function listSnapshots(home: string): Snapshot[] {
  const root = snapshotsDir(home)
  if (!existsSync(root)) return []
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.') && d.isDirectory())
    .map((d) => ({ dir: join(root, d.name), meta: readMeta(join(root, d.name)) ?? damagedMeta(join(root, d.name)) }))
    .sort((a, b) => b.meta.usedAt.localeCompare(a.meta.usedAt))
}

/** Remove the snapshot under `key` (a prefix of it is enough when it names one). Returns the keys removed. */
export function removeSnapshot(home: string, key: string): string[] {
  const hits = listSnapshots(home).filter((s) => s.meta.key.startsWith(key))
  if (hits.length !== 1) return []
  rmSync(hits[0].dir, { recursive: true, force: true })
  return [hits[0].meta.key]
}

/** Remove the least recently used snapshots until the rest fit in `maxMb`; also what a killed save left. Returns the keys removed. */
export async function pruneSnapshots(home: string, maxMb = Number(process.env.XCLUSTER_SNAPSHOT_MAX_MB ?? SNAPSHOT_MAX_MB)): Promise<string[]> {
  const root = snapshotsDir(home)
  if (!existsSync(root)) return []
  return withDirLock(join(root, '.lock'), async () => {
    for (const d of readdirSync(root).filter((d) => d.startsWith('.tmp-'))) {
      const pid = Number(d.split('-').at(-1))
      if (!pid || !existsSync(`/proc/${pid}`)) rmSync(join(root, d), { recursive: true, force: true })
    }
    const removed: string[] = []
    let total = 0
    for (const s of listSnapshots(home)) {
      total += s.meta.bytes
      // A damaged one is never restored from: it goes whatever the bound.
      if (s.meta.damaged || total > maxMb * 1048576) {
        rmSync(s.dir, { recursive: true, force: true })
        removed.push(s.meta.key)
      }
    }
    return removed
  }, 60_000, 'the snapshot lock')
}

/** The /proc path of QEMU `pid`'s RAM memfd (memory-backend-memfd, which QEMU names after its type). */
function memfdPath(pid: number): string {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('/memfd:memory-backend-memfd')) return `/proc/${pid}/fd/${fd}`
    } catch {
      // closed meanwhile
    }
  }
  throw new Error(`QEMU ${pid} has no RAM memfd (was the VM started with snapshot: true?)`)
}

/** Bound on each monitor command of a save: 100 VMs saving on 2 cores answer slowly. */
const SAVE_QMP_MS = 60_000
/** VMs saved at once (each copies its RAM out: memory bandwidth and disk, not CPU). */
const SAVE_CONCURRENCY = 4

/** Save one VM: no control session open, the VM paused, its device state migrated into `file` and its RAM copied to `ram` (holes kept), then resumed, also when the save fails. */
async function saveVm(vm: RunningVm, file: string, ram: string): Promise<void> {
  await vm.closeChannel()
  await qmp(vm.record.qmp, [{ execute: 'stop' }], SAVE_QMP_MS)
  try {
    await qmp(vm.record.qmp, [IGNORE_SHARED, { execute: 'migrate', arguments: { uri: `exec:cat > ${shellQuote(file)}` } }], SAVE_QMP_MS)
    const done = await waitFor(async () => {
      const [info] = (await qmp(vm.record.qmp, [{ execute: 'query-migrate' }], SAVE_QMP_MS)) as Array<{ status?: string; 'error-desc'?: string }>
      if (info.status === 'failed' || info.status === 'cancelled') throw new Error(`saving ${vm.name} failed: ${info['error-desc'] ?? info.status}`)
      return info.status === 'completed'
    }, { timeoutMs: 120_000, intervalMs: 20 })
    if (!done) throw new Error(`saving ${vm.name} did not finish within 120 s`)
    await execa('cp', ['--sparse=always', memfdPath(vm.process.record.pid), ram])
  } finally {
    await qmp(vm.record.qmp, [{ execute: 'cont' }], SAVE_QMP_MS)
  }
}

/**
 * Save every VM of a freshly booted cluster under `key`; the VMs go on
 * running. With `into` (a snapshot some VMs did not restore from), only
 * `vms` (those, booted cold) are saved again into it.
 */
export async function saveSnapshot(ctx: SnapshotContext, vms: RunningVm[], key: string, into?: Snapshot): Promise<Snapshot> {
  const root = snapshotsDir(ctx.spec.home)
  mkdirSync(root, { recursive: true, mode: 0o700 })
  const tmp = join(root, `.tmp-${key}-${process.pid}`)
  rmSync(tmp, { recursive: true, force: true })
  // 0700: the meta holds the saving cluster's secret.
  mkdirSync(tmp, { mode: 0o700 })
  try {
    if (!into) copyFileSync(ctx.initrd, join(tmp, 'initrd'))
    const saved = await mapLimit(vms, SAVE_CONCURRENCY, (vm) => saveVm(vm, stateFile(tmp, vm.name), ramFile(tmp, vm.name)))
    const failed = saved.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
    const secret = readSecret(ctx.state.dir)
    const now = new Date().toISOString()
    const dir = join(root, key)
    let meta: SnapshotMeta = into
      ? { ...into.meta, usedAt: now, vms: [...new Set([...into.meta.vms, ...vms.map((v) => v.name)])].sort(), secrets: { ...into.meta.secrets } }
      : { version: 1, key, name: ctx.spec.name, createdAt: now, usedAt: now, secrets: {}, qemu: await qemuVersionLine(), vms: vms.map((v) => v.name).sort(), bytes: 0 }
    for (const vm of vms) meta.secrets[vm.name] = secret
    // On disk: the allocated blocks (the RAM files are sparse).
    const size = (f: string): number => (existsSync(f) ? statSync(f).blocks * 512 : 0)
    const bytesIn = (d: string): number => meta.vms.reduce((n, vm) => n + size(stateFile(d, vm)) + size(ramFile(d, vm)), size(join(d, 'initrd')))
    if (!into) {
      // A new snapshot appears with its meta, whole (renamed into place), or not at all: never files without a meta.
      meta = { ...meta, bytes: bytesIn(tmp) }
      writeFileDurable(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n')
    }
    await withDirLock(join(root, '.lock'), async () => {
      if (into && existsSync(dir)) {
        for (const vm of vms) for (const f of [stateFile, ramFile]) renameSync(f(tmp, vm.name), f(dir, vm.name))
        meta = { ...meta, bytes: bytesIn(dir) }
        writeFileDurable(join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n')
      } else {
        rmSync(dir, { recursive: true, force: true })
        if (into) {
          meta = { ...meta, bytes: bytesIn(tmp) }
          writeFileDurable(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n')
        }
        renameSync(tmp, dir)
        fsyncDir(root)
      }
    }, 60_000, 'the snapshot lock')
    await pruneSnapshots(ctx.spec.home)
    return { dir, meta }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * Make a VM restored from a snapshot this cluster's: its login key, cluster id
 * and ssh keys (dropbear restarted with the new host key), the host's clock,
 * and 64 bytes of host randomness mixed into the kernel's pool, which then
 * reseeds its CRNG (xc-reseed: credited entropy, then RNDRESEEDCRNG), so
 * that no two restores draw alike.
 */
export async function rekey(ctx: SnapshotContext, ch: ShellChannel): Promise<void> {
  const lines = [
    // The VM's login key under this cluster's secret (the saved one goes with it).
    `umask 077 && printf '%s\\n' ${vmLoginKey(readSecret(ctx.state.dir), ch.vm)} > /etc/xcluster/key && umask 022`,
    // Shell builtins where they do (each program started costs a TCG translation of its code after a restore).
    `printf '%s' ${shellQuote(envFile(clusterEnv(ctx.plan, ctx.spec.tools)))} > /etc/xcluster/cluster.env`,
    // Through a file, not a pipe: one read gets all 64 bytes (from a pipe it may get part, too little to credit), and the file is emptied after.
    `printf '${[...randomBytes(64)].map((b) => '\\' + b.toString(8).padStart(3, '0')).join('')}' > /run/.xc-seed`,
    '{ /bin/xc-reseed < /run/.xc-seed; r=$?; : > /run/.xc-seed; [ $r = 0 ] || { echo "xc-reseed: errno $r" >&2; false; }; }',
  ]
  if (ctx.spec.tools) {
    const keys = await clusterKeys(ctx.state, true)
    lines.push(
      `printf '%s\\n' ${shellQuote(keys.publicKey)} > /root/.ssh/authorized_keys`,
      `echo ${keys.hostKey.toString('base64')} | base64 -d > /etc/dropbear/dropbear_ed25519_host_key`,
      'if pidof dropbear >/dev/null; then kill $(pidof dropbear); while pidof dropbear >/dev/null; do sleep 0.02; done; sh /etc/init.d/02dropbear.rc; fi',
    )
  }
  // Last, so that the time is the host's when the command ends.
  lines.push(`date -u -s @${Math.round(Date.now() / 1000)} >/dev/null`)
  const r = await ch.exec(lines.join(' && '), 30_000)
  if (r.exitCode !== 0) throw new Error(`re-keying after the restore failed (exit ${r.exitCode}): ${r.stderr.toString().trim()}`)
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
  if (!sent) throw new Error(alive() ? `no QEMU monitor within ${timeoutMs} ms` : 'QEMU exited before its monitor was up')
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
  if (!loaded) throw new Error(alive() ? `the saved state did not load within ${timeoutMs} ms` : 'QEMU exited while loading the saved state')
  if (status !== 'running') await qmp(qmpPath, [{ execute: 'cont' }])
}
