// A cluster across ssh hosts against the same cluster across simulated
// hosts (namespaces driven from here), in the same run: 8 VMs on 2 hosts
// (4 each), time to ready, exec('true') latency on a VM of the second host,
// and iperf3 throughput VM to VM across the hosts over net 1. The ssh hosts
// are the tests' simulated sshd servers (test/helpers/ssh-lab.ts), so the
// difference is what ssh adds: logins, the copy of the image (once: the first
// ssh run pays it and is reported apart), sessions for QEMU and socat for
// every telnet connection. Runs alternate. Needs root.
import { performance } from 'node:perf_hooks'
import { startCluster, type ClusterOptions } from '../src/index.ts'
import { SshLab } from '../test/helpers/ssh-lab.ts'
import { log, quick } from './config.ts'
import { execLatency, iperf3Mbps, type ExecStats } from './harness.ts'
import { live, stopCluster } from './session.ts'
import { median, msec, ratio, round, secs, times } from './stats.ts'

export interface SshHostsResult {
  vms: number
  /** The first ssh start, which copies the image to both hosts. */
  firstSshMs: number
  readyMs: { simulated: number[]; ssh: number[] }
  exec: { simulated: ExecStats[]; ssh: ExecStats[] }
  mbps: { simulated: number[]; ssh: number[] }
  /** ssh / simulated, medians. */
  readyRatio: number
  execRatio: number
  throughputRatio: number
}

const MODES = ['simulated', 'ssh'] as const

export async function sshHostsRun(): Promise<SshHostsResult> {
  const reps = quick ? 2 : 3
  const vms = 8
  const r: SshHostsResult = { vms, firstSshMs: NaN, readyMs: { simulated: [], ssh: [] }, exec: { simulated: [], ssh: [] }, mbps: { simulated: [], ssh: [] }, readyRatio: NaN, execRatio: NaN, throughputRatio: NaN }
  const lab = await SshLab.make(['a', 'b'])
  try {
    const a = [1, 2, 3, 4]
    const b = [5, 6, 7, 8]
    const hosts = (mode: (typeof MODES)[number]): ClusterOptions['hosts'] =>
      mode === 'simulated' ? { a, b } : { a: { ...lab.host('a').options, vms: a }, b: { ...lab.host('b').options, vms: b } }
    // The first ssh start copies the image and the tools disk to each host's cache: not a steady-state figure.
    {
      const t0 = performance.now()
      const c = await startCluster({ name: 'bench-ssh-first', network: 'bridge', nvm: vms, nrouters: 0, tools: true, hosts: hosts('ssh') })
      r.firstSshMs = round(performance.now() - t0, 0)
      live.add(c)
      await stopCluster(c)
      log(`  ssh, first start (copies the image to both hosts): ${secs(r.firstSshMs)}`)
    }
    for (let rep = 0; rep < reps; rep++) {
      for (const mode of MODES) {
        const t0 = performance.now()
        const c = await startCluster({ name: `bench-${mode}-hosts`, network: 'bridge', nvm: vms, nrouters: 0, tools: true, stdAddresses: true, hosts: hosts(mode) })
        const ms = performance.now() - t0
        live.add(c)
        try {
          r.readyMs[mode].push(round(ms, 0))
          const e = await execLatency(c.vm(5))
          r.exec[mode].push(e)
          const mbps = await iperf3Mbps(c.vm(5), c.vm(1), '192.168.1.5')
          r.mbps[mode].push(round(mbps, 0))
          log(`  ${mode} #${rep + 1}: ${vms} VMs on 2 hosts ready in ${secs(ms)}, exec('true') on vm-005 median ${msec(e.medianMs)}, iperf3 vm-001 -> vm-005 ${mbps.toFixed(0)} Mbit/s`)
        } finally {
          await stopCluster(c)
        }
      }
    }
  } finally {
    await lab.teardown()
  }
  r.readyRatio = round(ratio(median(r.readyMs.ssh), median(r.readyMs.simulated)), 3)
  r.execRatio = round(ratio(median(r.exec.ssh.map((e) => e.medianMs)), median(r.exec.simulated.map((e) => e.medianMs))), 3)
  r.throughputRatio = round(ratio(median(r.mbps.ssh), median(r.mbps.simulated)), 3)
  log(`ssh hosts / simulated hosts: ready ${times(r.readyRatio)}, exec ${times(r.execRatio)}, throughput ${times(r.throughputRatio)}`)
  return r
}
