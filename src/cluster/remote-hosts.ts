// A cluster's ssh hosts while it runs: what it does when one is lost (its
// sshd gone, or no answer to keepalives): it cannot go on. Every command on
// it is then a HostLostError naming the host; what the other hosts run is
// removed at once over their connections; what the lost host has stays
// recorded, for `xc cleanup` once it answers again. At stop, what each host
// has is removed over its open connection.
import { HostLostError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { removeRemote } from '../host/remote-cleanup.ts'
import type { SshHosts } from '../host/ssh-cluster.ts'
import type { StateDir } from '../host/state-dir.ts'

export class RemoteHosts {
  private lost?: HostLostError
  private removingOthers?: Promise<void>

  constructor(
    private readonly ssh: SshHosts,
    private readonly state: StateDir,
    private readonly log: Logger,
  ) {
    for (const [name, h] of ssh.hosts) h.onLost((why) => this.lose(name, why))
  }

  /** Why the cluster cannot be used: a host lost, once one is. */
  failure(): HostLostError | undefined {
    return this.lost
  }

  private lose(name: string, why: string): void {
    if (this.lost) return
    this.state.tryUpdate((r) => {
      if (r.remoteHosts?.[name]) r.remoteHosts[name].lost = why
    })
    const names = [...this.ssh.hosts.keys()]
    const others = names.filter((n) => n !== name)
    const rec = this.state.state.remoteHosts?.[name]
    this.lost = new HostLostError(name, why,
      `host ${name} (${this.ssh.hosts.get(name)!.label}) of cluster ${this.state.state.name} was lost: ${why}. ` +
      `The cluster is stopped: its VMs and networks on ${others.length ? `host ${others.join(', ')}` : 'no other host'} are removed; ` +
      `what it made on ${name}${rec ? ` (namespace ${rec.netns}, directory ${rec.dir})` : ''} stays recorded in ${this.state.dir}, and \`xc cleanup\` removes it once ${name} answers again`)
    this.log.error(this.lost.message)
    this.removingOthers = this.removeFrom(others)
  }

  /** Remove what the cluster made on `names` over their connections; a record goes once its host has removed it. */
  async removeFrom(names: string[]): Promise<void> {
    await Promise.all(names.map(async (n) => {
      const rec = this.state.state.remoteHosts?.[n]
      const h = this.ssh.hosts.get(n)
      if (!rec || !h || h.lost) return
      try {
        await removeRemote(rec, h)
        this.state.update((r) => delete r.remoteHosts![n])
      } catch (e) {
        // It stays recorded: the cluster's cleanup tries again over a new connection.
        this.log.child(`host ${n}`).warn((e as Error).message)
      }
    }))
  }

  /** At stop: once what a loss started is done, remove what every host has, and close the connections. */
  async teardown(): Promise<void> {
    await this.removingOthers
    await this.removeFrom([...this.ssh.hosts.keys()])
    for (const h of this.ssh.hosts.values()) h.close()
  }
}
