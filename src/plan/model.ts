// The model of xcluster that its users rely on: roles by VM number, names,
// the limits of a cluster and the option defaults. Pure.

export type Role = 'node' | 'router' | 'tester'
export type Accel = 'auto' | 'kvm' | 'tcg'
export type NetworkMode = 'user' | 'bridge'

export const DEFAULTS = {
  nvm: 4,
  nrouters: 2,
  ntesters: 0,
  netsVm: [0, 1],
  netsRouter: [0, 1, 2],
  netsTester: [0, 2],
  mem: 128,
  smp: 1,
  prefix: '1000::1',
  accel: 'auto' as Accel,
  network: 'user' as NetworkMode,
}

export const LIMITS = {
  nvm: [1, 200],
  nrouters: [0, 20],
  ntesters: [0, 20],
  vm: [1, 240],
  net: [0, 254],
  memMin: 80,
  memMax: 16384,
  smp: [1, 64],
  maxNics: 16,
  /** The x86 kernel's command line, bytes (COMMAND_LINE_SIZE); longer is cut off without a word. */
  cmdline: 2048,
  /** What the harness's own kernel parameters may take of it (about 150 bytes today). */
  cmdlineHarness: 256,
} as const

/** The role a VM number has (1-200 node, 201-220 router, 221-240 tester). */
export function roleOf(vm: number): Role {
  if (vm <= 200) return 'node'
  if (vm <= 220) return 'router'
  return 'tester'
}

/** `vm-001` for 1. */
export function vmName(vm: number): string {
  return `vm-${String(vm).padStart(3, '0')}`
}

/** The base image's accounts (/etc/passwd, /etc/group); a package layer adds its own after them. */
export const BASE_PASSWD = 'root:x:0:0:root:/root:/bin/sh\ntcpdump:x:104:104::/nonexistent:/bin/false\n'
export const BASE_GROUP = 'root:x:0:\ntcpdump:x:104:\n'
