// Bridge networking: the cluster's own network namespace, one Linux bridge
// per net, one tap per (VM, net), QEMU started inside the namespace. The test
// process stays in the main namespace and reaches the VMs through a relay on
// a Unix socket in the state directory.
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { HostCommandError, XcTimeoutError } from '../errors.ts'
import type { StateDir } from '../cluster/state-dir.ts'
import { procStartTime, waitGone, sameProcess } from '../cluster/proc.ts'
import { keeperSpawn } from '../cluster/keeper.ts'
import { existsSync } from 'node:fs'
import { HOST_VM_NUMBER, ipv4Of, ipv6Of, type ClusterPlan, type NicPlan, type VmPlan } from '../plan/plan.ts'
import { nicDevice } from '../qemu/qemu-args.ts'
import { CONNECT_TIMEOUT_MS, type NetworkBackend } from './backend.ts'

const RELAY = fileURLToPath(new URL('./relay.mjs', import.meta.url))

/** The namespace of cluster `id`. */
export function netnsName(id: string): string {
  return `xc-${id}`
}
/** Bridge of net k inside the namespace (xcluster's name). */
export function bridgeName(net: number): string {
  return `xcbr${net}`
}
/** Tap of VM v on net k inside the namespace. */
export function tapName(vm: number, net: number): string {
  return `t${vm}n${net}`
}

/** `ip -batch` lines that make the namespace's bridges and the host address on net 0. Pure. */
export function bridgeBatch(plan: ClusterPlan): string[] {
  const lines = ['link set lo up']
  for (const net of plan.nets) {
    const br = bridgeName(net)
    lines.push(`link add ${br} type bridge forward_delay 0 stp_state 0`)
    if (net === 0) {
      lines.push(`addr add ${ipv4Of(0, HOST_VM_NUMBER)}/24 dev ${br}`)
      lines.push(`addr add ${ipv6Of(0, HOST_VM_NUMBER, plan.prefix)}/120 dev ${br} nodad`)
    }
    lines.push(`link set ${br} up`)
  }
  return lines
}

/** `ip -batch` lines that make and attach the taps of `vm`. Pure. */
export function tapBatch(vm: VmPlan): string[] {
  return vm.nics.flatMap((nic) => [
    `tuntap add dev ${tapName(vm.num, nic.net)} mode tap`,
    `link set ${tapName(vm.num, nic.net)} master ${bridgeName(nic.net)} up`,
  ])
}

export class BridgeBackend implements NetworkBackend {
  readonly mode = 'bridge' as const
  readonly netns: string
  readonly relaySocket: string

  constructor(
    private readonly plan: ClusterPlan,
    private readonly state: StateDir,
  ) {
    this.netns = netnsName(plan.id)
    this.relaySocket = state.path('relay.sock')
  }

  private async ipBatch(lines: string[]): Promise<void> {
    const r = await execa('ip', ['-n', this.netns, '-batch', '-'], { input: lines.join('\n') + '\n', reject: false })
    if (r.exitCode !== 0) throw new HostCommandError(`ip -n ${this.netns} -batch failed: ${r.stderr.trim()}\n${lines.join('\n')}`)
  }

  async prepare(): Promise<void> {
    // Recorded before it is made, so that a kill right after leaves a trace.
    this.state.update((r) => (r.netns = this.netns))
    const add = await execa('ip', ['netns', 'add', this.netns], { reject: false })
    if (add.exitCode !== 0) throw new HostCommandError(`ip netns add ${this.netns} failed: ${add.stderr.trim()}`)
    await this.ipBatch(bridgeBatch(this.plan))
    await this.startRelay()
  }

  private async startRelay(): Promise<void> {
    const keeper = this.state.state.keeper
    if (keeper) {
      // A detached cluster: the keeper parents the relay, which says READY by making its socket.
      const argv = ['ip', 'netns', 'exec', this.netns, process.execPath, RELAY, this.relaySocket]
      const rec = await keeperSpawn(keeper.socket, argv, this.state.path('relay.log'))
      this.state.update((r) => (r.relay = { ...rec, socket: this.relaySocket }))
      const end = Date.now() + 10_000
      while (!existsSync(this.relaySocket)) {
        if (Date.now() > end || !sameProcess(rec.pid, rec.startTime)) throw new HostCommandError(`the namespace relay did not start: ${this.state.path('relay.log')}`)
        await new Promise((r) => setTimeout(r, 20))
      }
      return
    }
    const child = execa('ip', ['netns', 'exec', this.netns, process.execPath, RELAY, this.relaySocket], {
      stdin: 'ignore',
      stderr: { file: this.state.path('relay.log'), append: true },
      reject: false,
    })
    const pid = child.pid!
    this.state.update((r) => (r.relay = { pid, startTime: procStartTime(pid), socket: this.relaySocket }))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new XcTimeoutError('the namespace relay did not start within 10 s')), 10_000)
      child.stdout!.once('data', () => {
        clearTimeout(timer)
        resolve()
      })
      void child.then((r) => {
        clearTimeout(timer)
        reject(new HostCommandError(`the namespace relay exited: ${r.exitCode ?? r.signal}`))
      })
    })
  }

  async prepareVm(vm: VmPlan): Promise<void> {
    await this.ipBatch(tapBatch(vm))
  }

  async nicArgs(vm: VmPlan, nic: NicPlan): Promise<string[]> {
    return ['-netdev', `tap,id=${nic.id},ifname=${tapName(vm.num, nic.net)},script=no,downscript=no`, ...nicDevice(nic.id, nic.mac)]
  }

  wrap(argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.netns, ...argv]
  }

  connect(vm: VmPlan, port: number): Promise<Duplex> {
    return relayConnect(this.relaySocket, ipv4Of(0, vm.num), port)
  }

  async releaseVm(vm: VmPlan): Promise<void> {
    await this.ipBatch(vm.nics.map((nic) => `link delete ${tapName(vm.num, nic.net)}`)).catch(() => {})
  }

  async teardown(): Promise<void> {
    const relay = this.state.state.relay
    if (relay && sameProcess(relay.pid, relay.startTime)) {
      process.kill(relay.pid, 'SIGTERM')
      await waitGone(relay.pid, 2000)
    }
    // Deleting the namespace removes its bridges and taps with it.
    await execa('ip', ['netns', 'delete', this.netns], { reject: false })
  }
}

/** Connect through the relay at `socket` to `host`:`port` inside the namespace. */
export function relayConnect(socket: string, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const sock = connect(socket)
    let head = Buffer.alloc(0)
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error(`relay connect to ${host}:${port} timed out`))
    }, CONNECT_TIMEOUT_MS + 1000)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const nl = head.indexOf(0x0a)
      if (nl < 0) return
      sock.off('data', onData)
      clearTimeout(timer)
      const line = head.subarray(0, nl).toString()
      if (line !== 'OK') {
        sock.destroy()
        return reject(new Error(`relay: ${line}`))
      }
      sock.pause()
      if (head.length > nl + 1) sock.unshift(head.subarray(nl + 1))
      resolve(sock)
    }
    sock.on('data', onData)
    sock.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    sock.once('connect', () => sock.write(`CONNECT ${host} ${port}\n`))
  })
}
