// The plan some options give, without starting anything: checked as a start
// checks them (every problem one ClusterConfigError), with the ports of a
// given block. What tests and tools (a diagram of options) use.
import { ClusterConfigError } from '../errors.ts'
import { allocationOf } from '../host/port-block.ts'
import { planCluster, type ClusterPlan } from '../plan/plan.ts'
import { checkOptions, type ClusterOptions } from './options.ts'

/** The plan of `options` for a cluster `id` holding port block `block`. */
export function planOf(options: ClusterOptions, o: { id?: string; block?: number } = {}): ClusterPlan {
  const { spec, problems } = checkOptions(options)
  if (problems.length) throw new ClusterConfigError(problems)
  return planCluster(spec, allocationOf(o.id ?? 'plan', o.block ?? 20))
}
