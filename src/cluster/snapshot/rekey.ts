// A VM restored from a snapshot becomes this cluster's: its login key, its
// settings, its ssh keys, fresh randomness and the host's clock.
import { randomBytes } from 'node:crypto'
import { SnapshotError } from '../../errors.ts'
import type { ShellChannel } from '../../control/shell-channel.ts'
import { vmLoginKey } from '../../control/login.ts'
import { clusterKeys } from '../../control/ssh-keys.ts'
import { readSecret, type StateDir } from '../../host/state-dir.ts'
import type { ClusterPlan } from '../../plan/plan.ts'
import { shellQuote } from '../../pure/quote.ts'
import type { ClusterSpec } from '../../plan/spec.ts'
import { clusterEnv, envFile } from '../initrd.ts'

/** What of a cluster a re-key needs. */
export interface RekeyContext {
  spec: Pick<ClusterSpec, 'tools'>
  state: StateDir
  plan: ClusterPlan
}

/**
 * Make a VM restored from a snapshot this cluster's: its login key, cluster id
 * and ssh keys (dropbear restarted with the new host key), the host's clock,
 * and 64 bytes of host randomness mixed into the kernel's pool, which then
 * reseeds its CRNG (xc-reseed: credited entropy, then RNDRESEEDCRNG), so
 * that no two restores draw alike.
 */
export async function rekey(cluster: RekeyContext, ch: ShellChannel): Promise<void> {
  const lines = [
    // The VM's login key under this cluster's secret (the saved one goes with it).
    `umask 077 && printf '%s\\n' ${vmLoginKey(readSecret(cluster.state.dir), ch.vm)} > /etc/xcluster/key && umask 022`,
    // Shell builtins where they do (each program started costs a TCG translation of its code after a restore).
    `printf '%s' ${shellQuote(envFile(clusterEnv(cluster.plan, cluster.spec.tools)))} > /etc/xcluster/cluster.env`,
    // Through a file, not a pipe: one read gets all 64 bytes (from a pipe it may get part, too little to credit), and the file is emptied after.
    `printf '${[...randomBytes(64)].map((b) => '\\' + b.toString(8).padStart(3, '0')).join('')}' > /run/.xc-seed`,
    '{ /bin/xc-reseed < /run/.xc-seed; r=$?; : > /run/.xc-seed; [ $r = 0 ] || { echo "xc-reseed: errno $r" >&2; false; }; }',
  ]
  if (cluster.spec.tools) {
    const keys = await clusterKeys(cluster.state, true)
    lines.push(
      `printf '%s\\n' ${shellQuote(keys.publicKey)} > /root/.ssh/authorized_keys`,
      `echo ${keys.hostKey.toString('base64')} | base64 -d > /etc/dropbear/dropbear_ed25519_host_key`,
      'if pidof dropbear >/dev/null; then kill $(pidof dropbear); while pidof dropbear >/dev/null; do sleep 0.02; done; sh /etc/init.d/02dropbear.rc; fi',
    )
  }
  // Last, so that the time is the host's when the command ends.
  lines.push(`date -u -s @${Math.round(Date.now() / 1000)} >/dev/null`)
  const r = await ch.exec(lines.join(' && '), 30_000)
  if (r.exitCode !== 0) throw new SnapshotError('rekey', ch.vm, `re-keying after the restore failed (exit ${r.exitCode}): ${r.stderr.toString().trim()}`)
}

