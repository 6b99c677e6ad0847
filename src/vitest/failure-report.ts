// What a failing test gets attached, through Vitest's annotations (shown by
// its HTML reporter, copied into its attachmentsDir, named in JUnit): every
// VM's whole console log and boot timeline, the cluster's topology picture
// and plan, and the pcaps of the captures running in it, each with a short
// summary.
import { createHash } from 'node:crypto'
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import type { RunningCluster } from '../cluster/running-cluster.ts'

/** Vitest's context.annotate. */
export type Annotate = (message: string, type?: string, attachment?: { path?: string; body?: string | Uint8Array; contentType?: string; bodyEncoding?: 'base64' | 'utf-8' }) => Promise<unknown>

/** The boot phases a console shows (`xc-phase: <name> <uptime>`), one line. */
export function bootTimeline(console: string): string {
  const phases = [...console.matchAll(/xc-phase: (\w+) ([\d.]+)/g)].map((m) => `${m[1]} ${Number(m[2]).toFixed(2)} s`)
  return phases.length ? phases.join(', ') : 'no boot phase on the console'
}

/** Packets in a pcap file (classic format, either byte order), or undefined when it is not one. Pure. */
export function pcapPackets(pcap: Uint8Array): number | undefined {
  if (pcap.length < 24) return undefined
  const view = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength)
  const magic = view.getUint32(0, true)
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  if (!little && view.getUint32(0, false) !== 0xa1b2c3d4 && view.getUint32(0, false) !== 0xa1b23c4d) return undefined
  let n = 0
  for (let off = 24; off + 16 <= pcap.length; n++) off += 16 + view.getUint32(off + 8, little)
  return n
}

/** The first packets of a pcap as the host's tcpdump prints them, when it can. */
async function pcapText(file: string): Promise<string | undefined> {
  const r = await execa('tcpdump', ['-n', '-r', file, '-c', '20'], { reject: false }).catch(() => undefined)
  return r?.exitCode === 0 ? r.stdout : undefined
}

/**
 * A directory for the files a failing test's attachments are copied from,
 * the same for the same `key` (test and cluster) in every run. Vitest names
 * its copy in attachmentsDir after the source path (and the message), so
 * the next run's copies replace this run's instead of piling up there (and
 * in every HTML report after). Emptied now; the caller removes it after.
 * Where the parent is not this user's own 0700 directory: a random one.
 */
export function reportScratch(key: string): string {
  const base = scratchBase()
  const dir = join(base, createHash('sha1').update(key).digest('hex').slice(0, 16))
  // Twice: another worker's dropScratch may remove the (empty) parent between its check and the mkdir.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      mkdirSync(base, { recursive: true, mode: 0o700 })
      const st = lstatSync(base)
      if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) break
      rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir, { mode: 0o700 })
      return dir
    } catch {
      // gone meanwhile: once more
    }
  }
  return mkdtempSync(join(tmpdir(), 'xc-report-'))
}

const scratchBase = (): string => join(tmpdir(), `xcluster-report-${process.getuid?.() ?? 0}`)

/** Remove a directory of reportScratch, and its parent when nothing else is in it (no temp file is left). */
export function dropScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  if (dirname(dir) !== scratchBase()) return
  try {
    rmdirSync(scratchBase())
  } catch {
    // another worker's scratch is in it: the last one removes it
  }
}

/**
 * Attach everything about `cluster` to the failing test. Messages stay short
 * (Vitest names the attachment files after them); one attachment that fails
 * does not stop the others, and says so.
 */
export async function attachClusterReport(cluster: RunningCluster, annotate: Annotate, scratch: string): Promise<void> {
  const safely = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn()
    } catch (e) {
      await annotate(`${what}: could not be attached: ${(e as Error).message.split('\n')[0]}`, 'xcluster').catch(() => {})
    }
  }
  const plan = cluster.plan
  await safely('the topology picture', () =>
    annotate(`topology of cluster ${cluster.name}`, 'xcluster', {
      body: cluster.svg(),
      contentType: 'image/svg+xml',
      bodyEncoding: 'utf-8',
    }),
  )
  await safely('the plan', () => annotate(`plan of cluster ${cluster.name}`, 'xcluster', { body: JSON.stringify(plan, null, 2), contentType: 'application/json', bodyEncoding: 'utf-8' }))
  for (const vm of cluster.vms) {
    await safely(`the console of ${vm.name}`, () => {
      const copy = join(scratch, `${vm.name}.console`)
      copyFileSync(vm.record.console, copy)
      return annotate(`console of ${vm.name}`, 'xcluster', { path: copy, contentType: 'text/plain' })
    })
    await safely(`the boot timeline of ${vm.name}`, () => annotate(`boot timeline of ${vm.name}: ${bootTimeline(vm.console())}`, 'xcluster'))
    for (const iface of [...vm.captures]) {
      await safely(`the capture of ${vm.name} ${iface}`, async () => {
        const file = join(scratch, `${vm.name}-${iface}.pcap`)
        const pcap = await vm.stopCapture(iface, file)
        // The message of a file attachment names its copy: the same in every run (the counts go with the summary).
        await annotate(`capture of ${vm.name} ${iface}`, 'xcluster', { path: file, contentType: 'application/vnd.tcpdump.pcap' })
        const text = await pcapText(file)
        const counts = `${pcapPackets(pcap) ?? 'unknown number of'} packets, ${pcap.length} bytes`
        await annotate(`capture summary of ${vm.name} ${iface}: ${counts}`, 'xcluster', text ? { body: text, contentType: 'text/plain', bodyEncoding: 'utf-8' } : undefined)
      })
    }
  }
}
