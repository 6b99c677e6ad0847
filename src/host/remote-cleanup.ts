// Removes what a cluster made on one ssh host, by the names its record
// gives: the processes in its namespace there and those whose argv names its
// directory (QEMU, the shells that run and follow it), the namespace (with its bridges, taps
// and VXLAN devices), VXLAN devices left in the host's own namespace, and
// the directory. Run by a cluster's stop over its open connection, and by
// cleanup (a dead owner's cluster, a host lost during a run and reachable
// again) over a new one.
import { XclusterError } from '../errors.ts'
import { shellQuote as q } from '../pure/quote.ts'
import { SshHost } from './ssh-host.ts'
import type { RemoteHostRecord } from './state-dir.ts'

/** A cluster's directory on a host is `<dir>/run/<cluster id>-<host>`: nothing else is ever removed. */
export function isClusterRunDir(dir: string): boolean {
  return /^\/.+\/run\/[0-9a-f]{8}-[a-z][a-z0-9]{0,7}$/.test(dir) && !dir.includes('/../')
}

/**
 * The sh condition that process `pid` (a number, or a word such as $q) has
 * `dirWord` (a quoted path, or "$d") in its argv: how every script on a host
 * tells the cluster's own processes from a pid reused by another. Pure.
 */
export function argvNames(pid: string | number, dirWord: string): string {
  return `tr '\\0' '\\n' </proc/${pid}/cmdline 2>/dev/null | grep -qF -- ${dirWord}`
}

/** The POSIX sh script that removes what `r` records; it prints one line per thing removed, and `left ...` for what stays. */
export function remoteCleanupScript(r: RemoteHostRecord): string {
  if (!isClusterRunDir(r.dir)) throw new XclusterError(`refusing to clean ${r.dir} on host ${r.name}: not a cluster directory`)
  return `d=${q(r.dir)}; ns=${q(r.netns)}
gone() { [ ! -e /proc/$1 ] || [ "$(sed 's/.*) //' /proc/$1/stat 2>/dev/null | cut -d' ' -f1)" = Z ]; }
pids=
# Every process whose argv names the cluster's directory (QEMU, the shells that run and follow it), and every one in its namespace.
for f in /proc/[0-9]*; do
  p=\${f#/proc/}
  [ "$p" = $$ ] && continue
  if ${argvNames('$p', '"$d"')}; then pids="$pids $p"; fi
done
if [ -e "/run/netns/$ns" ]; then pids="$pids $(ip netns pids "$ns" 2>/dev/null)"; fi
for p in $pids; do gone $p || { kill -KILL $p 2>/dev/null && echo "process $p"; }; done
# A killed QEMU frees its memory before it is gone: under load that took seconds (as here, src/qemu/launcher.ts); 20 s at most.
for p in $pids; do i=0; while ! gone $p && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; gone $p || echo "left process $p ($(tr '\\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-60); state $(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f1))"; done
if [ -e "/run/netns/$ns" ]; then ip netns delete "$ns" && echo "network namespace $ns" || echo "left network namespace $ns"; fi
for l in ${r.links.map(q).join(' ')}; do ip link show "$l" >/dev/null 2>&1 && ip link delete "$l" && echo "link $l"; done
for t in ${(r.tables ?? []).map(q).join(' ')}; do nft list table inet "$t" >/dev/null 2>&1 && { nft delete table inet "$t" && echo "nftables table $t" || echo "left nftables table $t"; }; done
if [ -e "$d" ]; then rm -rf -- "$d" && echo "directory $d" || echo "left directory $d"; fi
exit 0
`
}

/** Remove what `r` records on its host, over `host` (or a new connection, bounded by `timeoutMs`). Returns what was removed, one line each, named by the host. */
export async function removeRemote(r: RemoteHostRecord, host?: SshHost, timeoutMs = 5000): Promise<string[]> {
  const own = host ? undefined : await SshHost.connect(r, timeoutMs)
  const h = host ?? own!
  try {
    const res = await h.run('sh -s', { input: remoteCleanupScript(r), timeoutMs: 30_000 })
    const lines = res.stdout.split('\n').filter(Boolean)
    const left = lines.filter((l) => l.startsWith('left '))
    if (res.code !== 0 || left.length) {
      throw new XclusterError(`host ${r.name} (${h.label}): could not remove everything: ${[...left, res.stderr.trim()].filter(Boolean).join('; ')}`)
    }
    return lines.map((l) => `${l} on host ${r.name}`)
  } finally {
    own?.close()
  }
}
