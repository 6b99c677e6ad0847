// Named network namespaces (ip netns) of clusters in bridge mode as root:
// `xc-<id>`, and `xc-<id>-<host>` / `xc-<id>-ul` for simulated hosts.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { HostCommandError } from '../errors.ts'

const NETNS_DIR = '/run/netns'

/** True when the network namespace `ns` exists (ip netns keeps one file per namespace). */
export function netnsExists(ns: string): boolean {
  return existsSync(join(NETNS_DIR, ns))
}

/** The namespaces named after cluster `id`: `xc-<id>` and `xc-<id>-*`. */
export function netnsNamedAfter(id: string): string[] {
  try {
    return readdirSync(NETNS_DIR).filter((n) => n === `xc-${id}` || n.startsWith(`xc-${id}-`))
  } catch {
    return []
  }
}

/** Delete the network namespace `ns` (a line for a cleanup's report); when it stays, a HostCommandError naming `dir`, its record. */
export async function deleteNetns(ns: string, dir: string): Promise<string> {
  const argv = ['ip', 'netns', 'delete', ns]
  const r = await execa(argv[0], argv.slice(1), { reject: false })
  if (r.exitCode === 0 || !netnsExists(ns)) return `network namespace ${ns}`
  throw new HostCommandError(`could not delete network namespace ${ns} (still recorded in ${dir}): ${r.stderr.trim()}`, { argv, exitCode: r.exitCode, stderr: r.stderr })
}

/** The pids of the processes in namespace `ns`. */
export async function netnsPids(ns: string): Promise<number[]> {
  const r = await execa('ip', ['netns', 'pids', ns], { reject: false })
  return r.exitCode === 0 ? r.stdout.split('\n').filter(Boolean).map(Number) : []
}
