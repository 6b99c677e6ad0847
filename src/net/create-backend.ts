// Picks the network backend of a cluster.
import type { Spawner } from '../host/spawner.ts'
import type { StateDir } from '../host/state-dir.ts'
import type { ClusterPlan } from '../plan/plan.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import type { NetworkBackend } from './backend.ts'
import { BridgeBackend } from './bridge-backend.ts'
import { CustomBackend } from './custom-backend.ts'
import type { SshHosts } from '../host/ssh-cluster.ts'
import type { Logger } from '../log.ts'
import { SshBackend } from './ssh-backend.ts'
import { XclusterError } from '../errors.ts'
import { UserBackend } from './user-backend.ts'

/** The backend for `plan`: user or bridge, wrapped by the user's net-setup hook if any; across ssh hosts, over their connections `ssh` (`failure`: a host lost). */
export function createBackend(plan: ClusterPlan, state: StateDir, spec: Pick<ClusterSpec, 'network' | 'netSetup' | 'rootless' | 'userNets' | 'sshHosts' | 'accel'>, spawner: Spawner, log: Logger, ssh?: SshHosts, failure: () => Error | undefined = () => undefined): NetworkBackend {
  if (spec.sshHosts) {
    if (!ssh) throw new XclusterError(`cluster ${plan.name} runs on ssh hosts (${Object.keys(spec.sshHosts).join(', ')}): only the process that started it drives it; xc can list it, stop it and clean it up`)
    return new SshBackend(plan, state, spec, ssh, failure, log)
  }
  const base: NetworkBackend = spec.network === 'bridge' ? new BridgeBackend(plan, state, spawner, spec.rootless === true, log) : new UserBackend(plan, state, spawner, spec.userNets !== 'shared', log)
  return spec.netSetup ? new CustomBackend(base, plan, state, spec.netSetup, spawner, log) : base
}
