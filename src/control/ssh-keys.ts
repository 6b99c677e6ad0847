// The ssh keys of a cluster: a client key for the harness (and for people,
// `ssh -i <state>/id_ed25519`), and the VMs' dropbear host key, both made
// per cluster and kept in its state directory.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { execa } from 'execa'
import ssh2 from 'ssh2'
import type { StateDir } from '../host/state-dir.ts'

export interface ClusterKeys {
  privateKeyPath: string
  publicKey: string
  /** dropbear's host key file (its own format). */
  hostKey: Buffer
}

/** The public half of the VMs' host key, as an ssh key blob (what a client is shown): written beside it when it is made. */
export function hostPublicKeyPath(hostKeyPath: string): string {
  return hostKeyPath + '.pub'
}

/** The ssh key blob of the host key at `hostKeyPath` (dropbearkey -y, once; kept beside it). */
export async function hostPublicKey(hostKeyPath: string): Promise<Buffer> {
  const pub = hostPublicKeyPath(hostKeyPath)
  if (!existsSync(pub)) {
    const { stdout } = await execa('dropbearkey', ['-y', '-f', hostKeyPath])
    const line = stdout.split('\n').find((l) => l.startsWith('ssh-ed25519 '))
    if (!line) throw new Error(`dropbearkey -y -f ${hostKeyPath} printed no ssh-ed25519 key`)
    writeFileSync(pub, line.split(' ').slice(0, 2).join(' ') + '\n', { mode: 0o644 })
  }
  return Buffer.from(readFileSync(pub, 'utf8').trim().split(' ')[1], 'base64')
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
  rmSync(hostPublicKeyPath(hostKeyPath), { force: true })
  await execa('dropbearkey', ['-t', 'ed25519', '-f', hostKeyPath])
  await hostPublicKey(hostKeyPath)
  return { privateKeyPath, publicKey: pair.public, hostKey: readFileSync(hostKeyPath) }
}
