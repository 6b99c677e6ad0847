// Custom net setup (xcluster's `__net_setup`): a function or an executable
// that gives the QEMU options of one NIC, on top of a base backend.
import type { NicPlan, VmPlan } from './types.ts'

export interface NetSetupContext {
  vm: VmPlan
  nic: NicPlan
  mac: string
  /** The netdev id the harness gives this NIC (use it in -netdev id= and -device netdev=). */
  nicId: string
  clusterId: string
  stateDir: string
  /** The cluster's named network namespace (bridge mode as root); rootless and in user mode none. The hook runs inside it. */
  netns?: string
  /** Host ports the harness expects for this VM: telnet on telnetPort (= telnetBase + vm). */
  telnetPort: number
  sshPort: number
  telnetBase: number
  sshBase: number
  /**
   * Start a long-lived program of the cluster's own (a switch's daemons) on
   * the host side of the networks, recorded in the state directory before it
   * starts and ended by stop and cleanup; its output goes to
   * `<stateDir>/<name>.log`. It must stay in the foreground. Resolves to its
   * pid once it runs. A script gets the same as `$XCLUSTER_SPAWN name program args...`.
   */
  spawn(name: string, argv: string[]): Promise<number>
}

/** Returns the QEMU options for the NIC, or nothing to leave it to the base backend. */
export type NetSetupFn = (
  vm: number,
  net: number,
  context: NetSetupContext,
) => string[] | undefined | void | Promise<string[] | undefined | void>

/** A function, or the path of an executable run as `<path> <vm> <net>` that prints the options. */
export type NetSetup = NetSetupFn | string
