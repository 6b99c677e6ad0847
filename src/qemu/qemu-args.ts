// The QEMU command line of one VM, as an argv array. Pure.
import type { VmPlan } from '../plan/plan.ts'

export interface VmFiles {
  console: string
  qmp: string
  pidfile: string
}

export interface QemuArgsInput {
  vm: VmPlan
  accel: 'kvm' | 'tcg'
  kernel: string
  initrd: string
  files: VmFiles
  /** The -netdev/-device options of each NIC, in NIC order. */
  nicArgs: string[][]
  /** Marks the process as this cluster's (checked by cleanup before a kill). */
  clusterTag: string
  /** Kernel parameters that cut boot work (default BOOT_TUNING; [] boots the kernel as packaged). */
  bootTuning?: string[]
  /** CPU model (default: host with KVM, TCG_CPU under TCG). */
  cpu?: string
  /** TCG translation cache, MiB (QEMU's default when absent). */
  tbSize?: number
  /** The read-only tools disk, attached as the first virtio disk (/dev/vda). */
  toolsDisk?: string
  /**
   * Guest RAM from a memory backend: a shared memfd (a VM whose RAM a
   * snapshot copies out), or a snapshot's RAM file mapped copy-on-write
   * (private), whose pages every VM restored from it shares until it writes them.
   */
  ram?: { kind: 'memfd' } | { kind: 'file'; path: string }
  /** The VM's read-only package layer, the next virtio disk (/dev/vdb after the tools disk); `xc.layer=1` tells the guest. */
  packagesDisk?: string
}

const FIRMWARE = '/usr/share/qemu/qboot.rom'

/**
 * Boot-time work of Debian's cloud kernel that a test VM does not need, each
 * measured under TCG with initcall_debug (one VM, q35, PVH):
 *  - cryptomgr.notests: the crypto self-tests at registration, about 0.26 s;
 *  - crypto_kdf108_init: the SP800-108 KDF self-test, compiled in, 0.11 s;
 *  - init_kprobe_trace: the tracefs kprobe_events setup, 0.07-0.08 s
 *    (kprobes through perf and bpf still work; only the tracefs file is gone).
 * Blacklisting seven more initcalls of 4-18 ms each (slab sysfs, encrypted
 * keys, i8042, ...) made no difference that 4 boots could see; they stay.
 */
export const BOOT_TUNING = ['cryptomgr.notests', 'initcall_blacklist=crypto_kdf108_init,init_kprobe_trace']

/**
 * The CPU model under TCG: qemu64 plus the x86-64-v2 features. Fewer emulated
 * features make the kernel's boot cheaper (no XSAVE/AVX state, fewer
 * alternatives): one VM to 'xc-phase: ready', 4 boots each, 1.68-1.96 s with
 * -cpu max against 1.53-1.82 s. Debian's userland needs only x86-64 (v1).
 */
export const TCG_CPU = 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16'

/** argv (without the program) for one VM. */
export function qemuArgs(i: QemuArgsInput): string[] {
  // no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check
  // can see too few ticks and panic ("IO-APIC + timer doesn't work"); seen in a soak.
  const append = ['console=ttyS0', 'quiet', 'panic=-1', 'no_timer_check', ...(i.bootTuning ?? BOOT_TUNING), `xc.cluster=${i.clusterTag}`, i.packagesDisk ? 'xc.layer=1' : '', i.vm.append].filter(Boolean).join(' ')
  return [
    '-name', i.vm.name,
    '-M', i.ram ? 'q35,memory-backend=ram0' : 'q35',
    ...(i.ram?.kind === 'memfd' ? ['-object', `memory-backend-memfd,id=ram0,size=${i.vm.mem}M,share=on`] : []),
    ...(i.ram?.kind === 'file' ? ['-object', `memory-backend-file,id=ram0,size=${i.vm.mem}M,mem-path=${i.ram.path},share=off`] : []),
    '-accel', i.accel === 'tcg' && i.tbSize ? `tcg,tb-size=${i.tbSize}` : i.accel,
    '-cpu', i.cpu ?? (i.accel === 'kvm' ? 'host' : TCG_CPU),
    '-m', String(i.vm.mem),
    '-smp', String(i.vm.smp),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-bios', FIRMWARE,
    '-kernel', i.kernel,
    '-initrd', i.initrd,
    '-append', append,
    '-serial', `file:${i.files.console}`,
    '-qmp', `unix:${i.files.qmp},server=on,wait=off`,
    '-pidfile', i.files.pidfile,
    ...(i.toolsDisk
      ? ['-drive', `file=${i.toolsDisk},if=none,id=tools,format=raw,readonly=on`, '-device', 'virtio-blk-pci,drive=tools']
      : []),
    ...(i.packagesDisk
      ? ['-drive', `file=${i.packagesDisk},if=none,id=packages,format=raw,readonly=on`, '-device', 'virtio-blk-pci,drive=packages']
      : []),
    ...i.nicArgs.flat(),
  ]
}

