// Packet captures inside a VM (tcpdump from the tools disk), brought back
// to the host as pcap bytes.
import { writeFileSync } from 'node:fs'
import { GuestCommandError } from '../errors.ts'
import { shellQuote } from '../pure/quote.ts'
import type { RawExecResult } from '../control/shell-channel.ts'

/** What a capture needs of a VM. */
export interface CaptureTarget {
  name: string
  run(command: string, opts?: { timeout?: number }): Promise<string>
  execRaw(command: string, opts?: { timeout?: number }): Promise<RawExecResult>
}

/** The guest-side files of a capture on `iface` (one capture per interface). */
function captureBase(iface: string): string {
  return `/tmp/xc-capture-${iface.replace(/[^A-Za-z0-9_.-]/g, '_')}`
}

/** Start capturing on `iface` into a pcap file in the VM (needs tools: true); `filter` is a tcpdump expression. */
export async function startCapture(vm: CaptureTarget, iface: string, filter = ''): Promise<void> {
  const base = captureBase(iface)
  await vm.run(`command -v tcpdump >/dev/null || { echo 'tcpdump is not in this VM: start the cluster with tools: true' >&2; exit 1; }`)
  await vm.run(`[ ! -e ${base}.pid ] || kill -INT $(cat ${base}.pid) 2>/dev/null; rm -f ${base}.pcap ${base}.pid`)
  // -U and --immediate-mode: each packet is written as it arrives (without
  // immediate mode libpcap hands packets over in blocks, and a stop right
  // after the traffic lost the last second: 0 packets of a ping just sent).
  // setsid: the capture outlives this telnet session (xc tcpdump --start
  // returns; a hang-up would end it). The filter goes as one word: tcpdump
  // joins its arguments into one expression.
  const expr = filter ? ` ${shellQuote(filter)}` : ''
  await vm.run(`setsid tcpdump -U --immediate-mode -n -i ${shellQuote(iface)} -w ${base}.pcap${expr} < /dev/null > ${base}.log 2>&1 & echo $! > ${base}.pid`)
  // Wait until tcpdump listens, so that the next packet is seen.
  await vm.run(`i=0; while ! grep -q listening ${base}.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; grep -q listening ${base}.log || { cat ${base}.log >&2; exit 1; }`, { timeout: 20_000 })
}

/** Stop the capture on `iface` and bring the pcap back (to `local` if given); resolves with its bytes. */
export async function stopCapture(vm: CaptureTarget, iface: string, local?: string): Promise<Buffer> {
  const base = captureBase(iface)
  await vm.run(
    `[ -e ${base}.pid ] || { echo ${shellQuote(`no capture running on ${iface}`)} >&2; exit 1; }; pid=$(cat ${base}.pid); kill -INT $pid; while kill -0 $pid 2>/dev/null; do sleep 0.1; done; rm -f ${base}.pid`,
    { timeout: 20_000 },
  )
  const r = await vm.execRaw(`cat ${base}.pcap`, { timeout: 120_000 })
  if (r.exitCode !== 0) throw new GuestCommandError(vm.name, `cat ${base}.pcap`, r.exitCode, '', r.stderr.toString())
  if (local) writeFileSync(local, r.stdout)
  return r.stdout
}
