// The ssh keys of a cluster: a client key for the harness (and for people,
// `ssh -i <state>/id_ed25519`), and the VMs' dropbear host key, both made
// per cluster and kept in its state directory.
import { readFileSync, writeFileSync } from 'node:fs'
import { execa } from 'execa'
import ssh2 from 'ssh2'
import type { StateDir } from '../host/state-dir.ts'

export interface ClusterKeys {
  privateKeyPath: string
  publicKey: string
  /** dropbear's host key file (its own format). */
  hostKey: Buffer
}

/** Make the cluster's keys (or, with `reuse`, read those made before) and return them. */
export async function clusterKeys(state: StateDir, reuse = false): Promise<ClusterKeys> {
  const privateKeyPath = state.path('id_ed25519')
  const hostKeyPath = state.path('dropbear_ed25519_host_key')
  if (reuse) {
    return { privateKeyPath, publicKey: readFileSync(privateKeyPath + '.pub', 'utf8').trim(), hostKey: readFileSync(hostKeyPath) }
  }
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: `xcluster-${state.id}` })
  writeFileSync(privateKeyPath, pair.private, { mode: 0o600 })
  writeFileSync(privateKeyPath + '.pub', pair.public + '\n', { mode: 0o644 })
  await execa('dropbearkey', ['-t', 'ed25519', '-f', hostKeyPath])
  return { privateKeyPath, publicKey: pair.public, hostKey: readFileSync(hostKeyPath) }
}
