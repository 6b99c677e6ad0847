// Which accelerator to use. KVM only where the CPU flags say it can work and
// a short probe boots; otherwise TCG. Never hang on a /dev/kvm that cannot run
// guests (seen on these machines: /dev/kvm present, no vmx/svm flag).
import { accessSync, constants, readFileSync } from 'node:fs'
import { execa } from 'execa'
import { MissingDependencyError } from '../errors.ts'
import type { Accel } from '../plan/spec.ts'

export const QEMU = 'qemu-system-x86_64'

/** True when /proc/cpuinfo shows hardware virtualisation (vmx or svm). */
export function cpuHasVirt(cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')): boolean {
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)
}

function kvmDeviceUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** A bounded KVM probe: QEMU must create a KVM VM and answer on its monitor. */
async function kvmProbe(): Promise<boolean> {
  const r = await execa(QEMU, ['-accel', 'kvm', '-M', 'none', '-nodefaults', '-display', 'none', '-monitor', 'stdio'], {
    input: 'info kvm\nquit\n',
    timeout: 5000,
    reject: false,
  })
  return r.exitCode === 0 && /kvm support: enabled/.test(r.stdout)
}

let cached: Promise<'kvm' | 'tcg'> | undefined

/** Resolve `auto` to kvm or tcg (probed once per process); `kvm` fails clearly where it cannot work. */
export async function resolveAccel(accel: Accel): Promise<'kvm' | 'tcg'> {
  if (accel === 'tcg') return 'tcg'
  cached ??= (async () => (cpuHasVirt() && kvmDeviceUsable() && (await kvmProbe()) ? 'kvm' : 'tcg'))()
  const found = await cached
  if (accel === 'kvm' && found !== 'kvm') {
    throw new MissingDependencyError(
      "accel: 'kvm' was asked for, but KVM cannot run guests here (the CPU shows no vmx/svm flag, /dev/kvm is not usable, or the probe failed). Use accel: 'auto' or 'tcg'.",
    )
  }
  return found
}
