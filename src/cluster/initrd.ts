// The cluster's initrd: the base image followed by the cluster's own
// segment (/etc/hosts, cluster.env, the topology's scripts, ssh keys and
// the overlays, in the order given).
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { clusterKeys } from '../control/ssh-keys.ts'
import { readSecret, type StateDir } from '../host/state-dir.ts'
import type { ImageManifest } from '../image/build-image.ts'
import { STD_ADDRESSES_RC } from '../image/guest-files.ts'
import { buildSegment } from '../image/overlay-segment.ts'
import { hostsFile, type ClusterPlan } from '../plan/plan.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import { getTopology } from '../topology/index.ts'
import { renderScript, TOPOLOGY_RC } from '../topology/script.ts'

/** The cluster's settings as seen inside every VM (/etc/xcluster/cluster.env), as name/value pairs. */
export function clusterEnv(plan: ClusterPlan, tools: boolean): Record<string, string> {
  const count = (role: string): string => String(plan.vms.filter((v) => v.role === role).length)
  return {
    PREFIX: plan.prefix,
    XCLUSTER_ID: plan.id,
    XCLUSTER_NAME: plan.name,
    XCLUSTER_NETWORK: plan.network,
    XCLUSTER_TOOLS: tools ? 'yes' : 'no',
    __nvm: count('node'),
    __nrouters: count('router'),
    __ntesters: count('tester'),
  }
}

/** cluster.env as the shell reads it. */
export function envFile(env: Record<string, string>): string {
  return [...Object.entries(env).map(([k, v]) => `${k}=${v}`), `export ${Object.keys(env).join(' ')}`].join('\n') + '\n'
}

/**
 * The cluster's own segment. `stable`: with what differs from one start of
 * the same configuration to the next (the cluster id, its secret and ssh
 * keys) left out, for the snapshot key.
 */
async function clusterSegment(spec: ClusterSpec, plan: ClusterPlan, state: StateDir, stable: boolean): Promise<Buffer> {
  const overlays: Record<string, string[]> = { all: spec.overlays }
  for (const [role, list] of Object.entries(spec.overlaysRole)) if (list?.length) overlays[role] = list
  for (const [num, list] of Object.entries(spec.overlaysVm)) {
    const vm = plan.vms.find((v) => v.num === Number(num))
    if (vm && list.length) overlays[vm.name] = list
  }
  const env = clusterEnv(plan, spec.tools)
  if (stable) env.XCLUSTER_ID = ''
  const files: Record<string, string | Buffer | { data: string; mode: number }> = {
    'etc/hosts': hostsFile(plan),
    'etc/xcluster/cluster.env': envFile(env),
    'etc/xcluster/secret': { data: (stable ? '' : readSecret(state.dir)) + '\n', mode: 0o600 },
  }
  if (spec.stdAddresses) files['etc/init.d/10std-addresses.rc'] = { data: STD_ADDRESSES_RC, mode: 0o755 }
  // Std addresses on some nets only: the others' NICs come up without one.
  if (Array.isArray(spec.stdAddresses)) files['etc/xcluster/std-nets'] = spec.stdAddresses.join(' ') + '\n'
  const topology = spec.topology ? getTopology(spec.topology) : undefined
  if (topology) {
    files['etc/init.d/11topology.rc'] = { data: TOPOLOGY_RC, mode: 0o755 }
    for (const vm of plan.vms) files[`etc/xcluster/topology/${vm.name}.sh`] = renderScript(vm.name, topology.vmConfig(vm, plan))
  }
  if (spec.tools) {
    const keys = stable ? { publicKey: '', hostKey: '' } : await clusterKeys(state, existsSync(state.path('id_ed25519')))
    files['root/.ssh/authorized_keys'] = keys.publicKey + '\n'
    files['etc/dropbear/dropbear_ed25519_host_key'] = keys.hostKey
  }
  // Overlay tar scripts see the cluster's settings in their environment, as in xcluster.
  return buildSegment({ files, overlays, env: { ...(process.env as Record<string, string>), ...env } })
}

/** Write the initrd of `plan`'s VMs to `path` (at start, and again before a scale-out). */
export async function writeInitrd(spec: ClusterSpec, plan: ClusterPlan, image: ImageManifest, state: StateDir, path: string): Promise<void> {
  writeFileSync(path, Buffer.concat([readFileSync(image.initrd), await clusterSegment(spec, plan, state, false)]))
}

/** A hash of what the initrd holds for every start of this configuration alike: the base image and the stable segment (overlays' content included). */
export async function initrdKey(spec: ClusterSpec, plan: ClusterPlan, image: ImageManifest, state: StateDir): Promise<string> {
  return createHash('sha256').update(readFileSync(image.initrd)).update(await clusterSegment(spec, plan, state, true)).digest('hex')
}
