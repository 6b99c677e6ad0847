// A cluster's snapshot (`snapshot: true`), as one object with its
// lifecycle: found at the start by the key of the configuration; each VM
// restored from it or, where it does not restore, booted cold (said once);
// after the start, what it lacks saved (every VM at the first start, or those
// that booted cold); restore() puts every VM back to it. The disk store, the
// migration steps and the re-key are files of their own beside this one.
import { createHash } from 'node:crypto'
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { NotStartedError, SnapshotError } from '../../errors.ts'
import type { Logger } from '../../log.ts'
import { readSecret, type StateDir } from '../../host/state-dir.ts'
import type { ImageManifest } from '../../image/build-image.ts'
import type { PackageLayer } from '../../packages/layer.ts'
import type { ClusterPlan, VmPlan } from '../../plan/plan.ts'
import type { ClusterSpec } from '../../plan/spec.ts'
import { mapLimit } from '../admission.ts'
import { initrdKey } from '../initrd.ts'
import type { RunningVm } from '../running-vm.ts'
import { qemuVersionLine, SAVE_CONCURRENCY, saveVm } from './migrate.ts'
import { commitSnapshot, findSnapshot, pruneSnapshots, ramFile, snapshotsDir, stateFile, type Snapshot, type SnapshotMeta } from './store.ts'

/** What of a cluster's boot context a snapshot uses (BootContext has it all). */
export interface SnapshotContext {
  spec: ClusterSpec
  state: StateDir
  plan: ClusterPlan
  accel: 'kvm' | 'tcg'
  image: () => Promise<ImageManifest>
  layer: (vm: number) => Promise<PackageLayer | undefined>
  initrd: string
  log: Logger
}

/** Boots a VM: from `from` when given, else cold (boot.ts's bootVm, handed in). */
export type VmBooter = (vm: VmPlan, from?: Snapshot) => Promise<RunningVm>

/**
 * The snapshot key of the cluster `cluster` is about to boot: QEMU's version, the
 * image (kernel, base initramfs, tools), each VM's package layer, each VM's
 * machine (memory, CPUs, kernel command line, NICs and MACs, host), the
 * networking, accel and translation cache, and the initramfs segment with
 * its overlays' content, without what is each cluster's own.
 */
export async function snapshotKey(cluster: SnapshotContext): Promise<string> {
  const image = await cluster.image()
  const layers = await Promise.all(cluster.plan.vms.map(async (v) => (await cluster.layer(v.num))?.path ?? null))
  const machines = cluster.plan.vms.map((v) => ({ num: v.num, mem: v.mem, smp: v.smp, append: v.append, host: v.host ?? null, nics: v.nics.map((n) => [n.ifname, n.net, n.mac]) }))
  const h = createHash('sha256')
  h.update(JSON.stringify({ v: 3, qemu: await qemuVersionLine(), image, layers, machines, network: cluster.spec.network, accel: cluster.accel, tbSize: cluster.spec.tbSize ?? null, tools: cluster.spec.tools }))
  h.update(await initrdKey(cluster.spec, cluster.plan, image, cluster.state))
  return h.digest('hex').slice(0, 24)
}

export class ClusterSnapshot {
  /** What restores come from, once found or saved. */
  private from?: Snapshot
  /** Why the first VM that did not restore did not. */
  private fellBack?: string
  /** The VMs that booted cold although the snapshot was to have them. */
  private readonly cold: string[] = []
  private saved = false
  private saveFailed?: string

  private constructor(
    private readonly cluster: SnapshotContext,
    readonly key: string,
  ) {}

  /** The snapshot of `cluster`'s configuration, with what is found of it on disk. */
  static async find(cluster: SnapshotContext): Promise<ClusterSnapshot> {
    const s = new ClusterSnapshot(cluster, await snapshotKey(cluster))
    s.from = findSnapshot(cluster.spec.home, s.key, cluster.plan.vms.map((v) => v.name))
    return s
  }

  /** How the cluster started: from the snapshot, cold with one saved, cold after one that did not restore. */
  get summary(): { key: string; restored: boolean; saved: boolean; fellBack?: string; saveFailed?: string; dir?: string } {
    return { key: this.key, restored: !!this.from && !this.saved && !this.cold.length, saved: this.saved, fellBack: this.fellBack, saveFailed: this.saveFailed, dir: this.from?.dir }
  }

  /** Boot `vm`: from the snapshot when it has it, cold when it has not or when it does not restore (the first such VM says so, once). */
  async boot(vm: VmPlan, boot: VmBooter, release: (vm: VmPlan) => Promise<void>): Promise<RunningVm> {
    const from = this.from
    if (!from || !from.meta.vms.includes(vm.name)) return boot(vm)
    try {
      return await boot(vm, from)
    } catch (e) {
      if (e instanceof NotStartedError) throw e
      this.cold.push(vm.name)
      if (this.fellBack === undefined) {
        this.fellBack = (e as Error).message.split('\n')[0]
        this.cluster.log.warn(`snapshot ${this.key} did not restore (${this.fellBack}); booting cold what did not, and saving it again`)
      }
      // Its host side is made anew, as for any boot (in bridge mode its taps are still there).
      await release(vm)
      return boot(vm)
    }
  }

  /**
   * After the start, before any test command (and before the impairments):
   * save what the snapshot lacks, every VM without one, after a partial
   * restore only those that booted cold (the others run from its own RAM
   * files). A save that fails costs the next start its snapshot, not this
   * start: it is said, and the cluster runs without one.
   */
  async saveAfterStart(vms: RunningVm[]): Promise<void> {
    if (this.from && !this.cold.length) return
    const todo = this.from ? vms.filter((v) => this.cold.includes(v.name)) : vms
    try {
      this.from = await this.save(todo, this.from)
      this.saved = true
    } catch (e) {
      this.saveFailed = (e as Error).message.split('\n')[0]
      this.cluster.log.warn(`the snapshot could not be saved (${this.saveFailed}); the cluster runs without one`)
      if (!this.cold.length) this.from = undefined
    }
  }

  /** Save `vms` under the key; the VMs go on running. With `into`, into that snapshot (only `vms` are saved again). */
  private async save(vms: RunningVm[], into?: Snapshot): Promise<Snapshot> {
    const { cluster, key } = this
    const root = snapshotsDir(cluster.spec.home)
    mkdirSync(root, { recursive: true, mode: 0o700 })
    const tmp = join(root, `.tmp-${key}-${process.pid}`)
    rmSync(tmp, { recursive: true, force: true })
    // 0700: the meta holds the saving cluster's secret.
    mkdirSync(tmp, { mode: 0o700 })
    try {
      if (!into) copyFileSync(cluster.initrd, join(tmp, 'initrd'))
      const saved = await mapLimit(vms, SAVE_CONCURRENCY, (vm) => saveVm(vm, stateFile(tmp, vm.name), ramFile(tmp, vm.name)))
      const failed = saved.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
      const secret = readSecret(cluster.state.dir)
      const now = new Date().toISOString()
      const meta: SnapshotMeta = into
        ? { ...into.meta, usedAt: now, vms: [...new Set([...into.meta.vms, ...vms.map((v) => v.name)])].sort(), secrets: { ...into.meta.secrets } }
        : { version: 1, key, name: cluster.spec.name, createdAt: now, usedAt: now, secrets: {}, qemu: await qemuVersionLine(), vms: vms.map((v) => v.name).sort(), bytes: 0 }
      for (const vm of vms) meta.secrets[vm.name] = secret
      const done = await commitSnapshot(cluster.spec.home, key, tmp, vms.map((v) => v.name), meta, !!into)
      await pruneSnapshots(cluster.spec.home)
      return done
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }

  /** What restore() restores from; a SnapshotError when there is nothing (saving it failed). */
  restorable(): Snapshot {
    if (this.from) return this.from
    throw new SnapshotError('restore', undefined, this.saveFailed ? `restore(): this cluster has no snapshot: saving it failed (${this.saveFailed})` : 'restore(): this cluster has no snapshot')
  }

  /** restore() of `vm`: from the snapshot, or cold when it does not have it or it does not restore (said for each such VM). */
  async restoreVm(vm: VmPlan, boot: VmBooter, release: (vm: VmPlan) => Promise<void>): Promise<RunningVm> {
    const from = this.restorable()
    if (!from.meta.vms.includes(vm.name)) return boot(vm)
    try {
      return await boot(vm, from)
    } catch (e) {
      this.cluster.log.child(vm.name).warn(`did not restore from snapshot ${from.meta.key} (${(e as Error).message.split('\n')[0]}); booting it cold`)
      await release(vm)
      return boot(vm)
    }
  }
}
