// Attach to a cluster that another process started (xc start), from the
// records in its state directory: the options as they were resolved at
// start go through the same validation and boot context as a start.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ClusterConfigError, XclusterError } from '../errors.ts'
import { runDir, xclusterHome } from '../host/home.ts'
import { nameHolder } from '../host/names.ts'
import { clusterAlive, listStates, readRecord, StateDir, type DamagedState } from '../host/state-dir.ts'
import { stderrLogger } from '../log.ts'
import { prepareBoot } from './boot.ts'
import { reconnectSshHosts } from './ssh-hosts.ts'
import type { ClusterSpec } from '../plan/spec.ts'
import { checkOptions, type ClusterOptions } from './options.ts'
import { RunningCluster } from './running-cluster.ts'
import { RunningVm } from './running-vm.ts'
import { validateOptions } from './validate.ts'

/** The state of the live cluster called `name`, if any. */
export function findCluster(home: string, name: string): StateDir | undefined {
  return listStates(home).find((s) => s.state.name === name && clusterAlive(s.state) && s.state.plan)
}

/** What the name `name` stands for in `home`: a live cluster, one still starting, a dead one not yet removed, one whose record is damaged, or nothing. */
export type Lookup = { kind: 'live'; state: StateDir } | { kind: 'starting'; state: StateDir } | { kind: 'dead'; state: StateDir } | { kind: 'damaged'; damaged: DamagedState }

/** Live with a plan, live before its plan (a start in progress), or dead. */
function kindOf(state: StateDir): 'live' | 'starting' | 'dead' {
  return clusterAlive(state.state) ? (state.state.plan ? 'live' : 'starting') : 'dead'
}

/**
 * The cluster called `name`: the one that holds the name (`xc start`'s,
 * names.ts), whatever its state, else a live one of that name, else one
 * not stopped, else any not yet removed.
 */
export function lookupCluster(home: string, name: string): Lookup | undefined {
  const holder = nameHolder(home, name)
  if (holder) {
    const dir = join(runDir(home), holder)
    const r = readRecord(dir)
    if ('record' in r) {
      const state = StateDir.open(dir, r.record)
      return { kind: kindOf(state), state }
    }
    if (existsSync(dir)) return { kind: 'damaged', damaged: { id: holder, dir, reason: r.damaged } }
  }
  const live = findCluster(home, name)
  if (live) return { kind: 'live', state: live }
  const named = listStates(home).filter((s) => s.state.name === name)
  const state = named.find((s) => !s.state.stoppedAt) ?? named[0]
  return state && { kind: kindOf(state), state }
}

/** A handle on the running cluster `name` started by another process. */
export async function attachCluster(name = 'default', homeOverride?: string): Promise<RunningCluster> {
  const home = xclusterHome(homeOverride)
  const state = findCluster(home, name)
  if (!state) {
    // A misspelled name: the ones that do run, before the suggestion to start one.
    const running = [...new Set(listStates(home).filter((s) => clusterAlive(s.state) && s.state.plan).map((s) => s.state.name))].sort()
    const there = running.length ? `; running in this home: ${running.join(', ')} (xc ls). Or start one` : ' (start one'
    throw new XclusterError(`No cluster named ${name} is running${there} with \`xc start --name=${name}\`${running.length ? '' : ')'}`)
  }
  const s = state.state
  const options = { ...(s.options ?? {}), home } as ClusterOptions
  // The recorded options validate as they did at start; when they no longer
  // do (an overlay removed since), the cluster can still be used and stopped,
  // but not grow: boots are refused with that error.
  let spec: ClusterSpec
  let refused: ClusterConfigError | undefined
  try {
    spec = validateOptions(options)
  } catch (e) {
    if (!(e instanceof ClusterConfigError)) throw e
    refused = e
    spec = { ...checkOptions(options).spec, home }
  }
  const plan = s.plan!
  // On ssh hosts: connected again from the records; each VM followed there (its liveness, console and monitor).
  const ssh = spec.sshHosts ? await reconnectSshHosts(s, (spec.log ?? stderrLogger()).child(`cluster ${s.name}`)) : undefined
  const boot = await prepareBoot(spec, state, plan, refused, undefined, ssh)
  const vms: RunningVm[] = []
  for (const vmPlan of plan.vms) {
    const rec = s.vms[vmPlan.name]
    if (!rec?.process) continue
    // A VM on an ssh host that does not answer cannot be followed: it is left out (its record stays for cleanup).
    if (rec.host && !ssh?.hosts.has(rec.host)) continue
    vms.push(new RunningVm(vmPlan, rec, await boot.runner.adopt(vmPlan, rec.process, rec), boot.backend, boot.failure))
  }
  return new RunningCluster(boot, vms)
}
