// The tools disk: real network tools from the host (iproute2, tcpdump,
// iperf3, nft/iptables, ethtool, socat, iputils ping, jq, dropbear, dash, bash)
// with their libraries, and the kernel modules they need, on one read-only
// ext4 image that every VM of a `tools: true` cluster mounts at /xt. Shared
// through the host's page cache: it costs the guests no RAM and no unpacking
// (as an initramfs segment it did not even fit a 128 MiB VM).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync, lstatSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import { which } from '../host/which.ts'
import { MissingDependencyError } from '../errors.ts'
import { writeProgramOverlay } from './host-programs.ts'
import { parseModulesDep, trimmedModulesDep } from './modules.ts'

/** Programs on the tools disk (Debian packages that `npm run setup` installs). */
export const TOOL_PROGRAMS = [
  'ip', 'tc', 'bridge', 'ss', 'tcpdump', 'iperf3', 'nft', 'iptables', 'ip6tables', 'iptables-save', 'ip6tables-save',
  'ethtool', 'socat', 'ping', 'dropbear', 'dropbearkey', 'dash', 'bash',
  // xcluster's base image has jq, and its ovls' test scripts use it (ip -j ... | jq: 31 uses in their *_test scripts).
  'jq',
]
/** Files the tools dlopen (iptables' match and target plugins). */
export const TOOL_EXTRA = ['/usr/lib/x86_64-linux-gnu/xtables']
/** Kernel module directories on the tools disk: bridges, VLANs, tc, netfilter and IPVS, tunnels, SCTP. */
export const TOOL_MODULE_DIRS = [
  'kernel/net/bridge', 'kernel/net/8021q', 'kernel/net/sched', 'kernel/net/netfilter', 'kernel/net/ipv4', 'kernel/net/ipv6',
  'kernel/net/sctp', 'kernel/net/mpls', 'kernel/net/core', 'kernel/net/llc', 'kernel/net/802', 'kernel/net/openvswitch',
  'kernel/net/xfrm', 'kernel/net/key', 'kernel/net/tls', 'kernel/net/psample', 'kernel/net/ife', 'kernel/net/nsh',
  'kernel/drivers/net', 'kernel/drivers/virtio', 'kernel/drivers/block/virtio_blk.ko', 'kernel/lib', 'kernel/crypto',
  // overlayfs lays a package layer over the root.
  'kernel/fs/overlayfs',
]

/** Starts dropbear (ssh on port 22) with the cluster's host key. */
export const DROPBEAR_RC = `#!/bin/sh
# ssh for the harness (vm.ssh()) and for people: dropbear with the cluster's host key,
# by key only (-s -g: no password logins), the key being the cluster's.
[ -x /usr/sbin/dropbear ] || exit 0
[ -f /etc/dropbear/dropbear_ed25519_host_key ] || exit 0
mkdir -p /root/.ssh
chmod 700 /root /root/.ssh
[ -f /root/.ssh/authorized_keys ] && chmod 600 /root/.ssh/authorized_keys
chmod 600 /etc/dropbear/dropbear_ed25519_host_key
exec /usr/sbin/dropbear -s -g -r /etc/dropbear/dropbear_ed25519_host_key -p 22
`

/** Module paths under TOOL_MODULE_DIRS and everything they depend on. */
export function toolModulePaths(deps: Map<string, string[]>, dirs = TOOL_MODULE_DIRS): string[] {
  const roots = [...deps.keys()].filter((p) => dirs.some((d) => p === d || p.startsWith(d + '/')))
  const out = new Set<string>()
  const visit = (p: string): void => {
    if (out.has(p)) return
    out.add(p)
    for (const d of deps.get(p) ?? []) visit(d)
  }
  roots.forEach(visit)
  return [...out].sort()
}

/** Point absolute symlinks inside `root` at `prefix` + target, so they resolve on the mounted disk. */
function rebaseLinks(root: string, prefix: string): void {
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      const st = lstatSync(p)
      if (st.isSymbolicLink()) {
        const t = readlinkSync(p)
        if (t.startsWith('/')) {
          unlinkSync(p)
          symlinkSync(prefix + t, p)
        }
      } else if (st.isDirectory()) walk(p)
    }
  }
  walk(root)
}

/**
 * The script the guest's boot script sources after mounting the disk at /xt:
 * links that put the tools where they are on the host, ahead of busybox.
 */
export function toolsSetupScript(programs: Array<{ path: string; applet?: string }>, dash: string): string {
  const lines = [
    '# Sourced by the boot script with the tools disk mounted on /xt.',
    'ln -s /xt/lib64 /lib64',
    'ln -s /xt/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu',
    'mkdir -p /usr/lib /etc/dropbear',
    'ln -s /xt/usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu',
    'mount -o bind /xt/lib/modules /lib/modules',
    // busybox ash runs its own applet for any name it knows before PATH; dash does not.
    `ln -sf /xt${dash} /bin/sh`,
    'cp /xt/etc/shells /xt/etc/nsswitch.conf /etc/',
    'cp /xt/etc/init.d/02dropbear.rc /etc/init.d/',
  ]
  for (const p of programs) {
    lines.push(`mkdir -p ${dirname(p.path)}; ln -sf /xt${p.path} ${p.path}`)
    if (p.applet && `/${p.applet}` !== p.path) lines.push(`ln -sf /xt${p.path} /${p.applet}`)
  }
  return lines.join('\n') + '\n'
}

/** Build the tools disk image at `out` for the kernel whose modules are in `modulesDir` (all of them, or those of TOOL_MODULE_DIRS). */
export async function buildToolsDisk(out: string, modulesDir: string, kernelVersion: string, applets: string[], allModules = false): Promise<void> {
  const mke2fs = which('mke2fs')
  if (!mke2fs) throw new MissingDependencyError('mke2fs is missing: install e2fsprogs (npm run setup does)')
  const stage = mkdtempSync(join(tmpdir(), 'xc-tools-'))
  try {
    await writeProgramOverlay(stage, TOOL_PROGRAMS, TOOL_EXTRA)
    rebaseLinks(stage, '/xt')
    const deps = parseModulesDep(readFileSync(join(modulesDir, 'modules.dep'), 'utf8'))
    const mods = allModules ? [...deps.keys()].sort() : toolModulePaths(deps)
    const modRoot = join(stage, 'lib', 'modules', kernelVersion)
    for (const p of mods) {
      mkdirSync(dirname(join(modRoot, p)), { recursive: true })
      writeFileSync(join(modRoot, p), readFileSync(join(modulesDir, p)))
    }
    writeFileSync(join(modRoot, 'modules.dep'), trimmedModulesDep(deps, mods))
    // modules.alias lets the kernel's requests (e.g. net-pf-16-proto-12 for nftables) find modules.
    for (const f of ['modules.builtin', 'modules.order', 'modules.alias', 'modules.symbols']) {
      try {
        writeFileSync(join(modRoot, f), readFileSync(join(modulesDir, f)))
      } catch {
        // optional
      }
    }
    mkdirSync(join(stage, 'etc', 'init.d'), { recursive: true })
    writeFileSync(join(stage, 'etc', 'init.d', '02dropbear.rc'), DROPBEAR_RC, { mode: 0o755 })
    writeFileSync(join(stage, 'etc', 'shells'), '/bin/sh\n/bin/ash\n/bin/bash\n')
    writeFileSync(join(stage, 'etc', 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files\n')
    const byName = new Map(applets.map((a) => [a.split('/').pop()!, a]))
    const programs = TOOL_PROGRAMS.map((name) => ({ path: which(name)!, applet: byName.get(name) }))
    writeFileSync(join(stage, 'xt-setup'), toolsSetupScript(programs, which('dash')!), { mode: 0o755 })
    const { stdout } = await execa('du', ['-sm', stage])
    const mib = Math.ceil(Number(stdout.split(/\s/)[0]) * 1.25) + 16
    rmSync(out, { force: true })
    await execa(mke2fs, ['-q', '-t', 'ext4', '-O', '^has_journal', '-m', '0', '-L', 'xctools', '-d', stage, out, `${mib}M`])
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
  statSync(out)
}
