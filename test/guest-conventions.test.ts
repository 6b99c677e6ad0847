// What the original xcluster's own test library (ovl/test's xctest, sourced
// by every ovl's *_test script) expects of every VM, checked in a VM of ours:
// /etc/os-release says what the system is (log_version sources it in the
// first test case; test_test's version case prints "$NAME $VERSION_ID"; its
// rcp case greps ID=xcluster), /etc/profile sets the cluster's settings, the
// number comes from the hostname (xctest's mynode), and with tools jq reads
// iproute2's JSON (the *_test scripts' `ip -j ro | jq`). Then, with a
// checkout of Nordix/xcluster in XCLUSTER_ORIGINAL, the original's MPLS and
// SRv6 test cases run through the harness with their overlays as they are
// (those overlays are that project's, not copied into this one).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCluster, type RunningCluster } from '../src/index.ts'
import { canBridge, NEEDS_BRIDGE_RIGHTS } from './helpers/rights.ts'

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

describe('the guest as xctest expects it', () => {
  let cluster: RunningCluster
  beforeAll(async () => {
    cluster = await startCluster({ name: 'conventions', nvm: 1, nrouters: 0, tools: true })
  })
  afterAll(async () => {
    await cluster?.stop()
  })

  test('/etc/os-release: NAME, VERSION, ID=xcluster, VERSION_ID, sourced by dash and by busybox sh', async () => {
    const vm = cluster.vm(1)
    const read = '. /etc/os-release && echo "$NAME|$VERSION|$ID|$VERSION_ID|$PRETTY_NAME"'
    const want = `Xcluster|${VERSION}|xcluster|${VERSION}|Xcluster ${VERSION}\n`
    expect(await vm.run(read)).toBe(want)
    expect(await vm.run(`busybox sh -c '${read}'`)).toBe(want)
    expect(await vm.run('grep ID=xcluster /etc/os-release')).toContain('ID=xcluster')
    expect(await vm.run('cmp /etc/os-release /usr/lib/os-release && echo same')).toBe('same\n')
  })

  test('xctest-style helpers work: log_version\'s first lines, mynode, /etc/profile\'s settings, ip -j | jq', async () => {
    const vm = cluster.vm(1)
    // log_version, as far as a cluster without Kubernetes goes.
    const lv = await vm.run('. /etc/os-release; test "$VERSION" != "1.0" && echo "Xcluster: $VERSION"; uname -s -r; kubectl version > /dev/null 2>&1 || echo no-kubectl')
    expect(lv).toMatch(new RegExp(`^Xcluster: ${VERSION.replace(/\./g, '\\.')}\nLinux \\S+\nno-kubectl\n$`))
    expect(await vm.run("hostname | cut -d- -f2 | sed -re 's,^0+,,'")).toBe('1\n')
    expect(await vm.run('. /etc/profile; echo "$__nvm $__nrouters $PREFIX"')).toBe('1 0 1000::1\n')
    expect(await vm.run("ip -j link show | jq -r '.[].ifname' | sort | tr '\\n' ' '")).toBe('eth0 eth1 lo ')
  })
})

// A checkout of github.com/Nordix/xcluster (its ovl/test, ovl/mpls, ovl/srv6). Not part of this project:
// given by the environment, else this part is skipped, its name saying so.
const ORIGINAL = process.env.XCLUSTER_ORIGINAL ?? ''
const ovl = (name: string): string => join(ORIGINAL, 'ovl', name)
const noOriginal = !ORIGINAL ? 'XCLUSTER_ORIGINAL is not set (a checkout of Nordix/xcluster)' : !existsSync(ovl('test/tar')) ? `no ovl/test/tar in XCLUSTER_ORIGINAL=${ORIGINAL}` : ''
const skipWhy = noOriginal || (!canBridge ? NEEDS_BRIDGE_RIGHTS : '')

/** The original's `otc VM TC`: its test script `<ovl>_test tcase_<TC>` run on the VM, which must pass. */
async function otc(cluster: RunningCluster, ovlName: string, vm: number, tc: string): Promise<string> {
  const r = await cluster.vm(vm).exec(`${ovlName}_test tcase_${tc}`, { timeout: 60_000 })
  expect(r.exitCode, `otc ${vm} ${tc}\n${r.stdout}${r.stderr}`).toBe(0)
  return r.stdout + r.stderr
}

describe.skipIf(!!skipWhy)(skipWhy ? `the original's MPLS and SRv6 tests (skipped: ${skipWhy})` : "the original's MPLS and SRv6 tests, their overlays unchanged", () => {
  const ROUTERS = [201, 202, 203, 204]
  /** The cluster of the original's test_start_empty: TOPOLOGY=diamond, __nvm=1, the test library and the ovl under test. */
  const start = (name: string): Promise<RunningCluster> =>
    startCluster({ name: `orig-${name}`, topology: 'diamond', nvm: 1, tools: true, network: 'bridge', overlays: [ovl('test'), ovl(name)] })

  test("mpls.sh test basic: version (log_version), flush_routes, enable_mpls, edge, intermediate, then ping over MPLS", async () => {
    const c = await start('mpls')
    try {
      expect(await otc(c, 'mpls', 1, 'version')).toContain(`Xcluster: ${VERSION}`)
      for (const r of ROUTERS) await otc(c, 'mpls', r, 'flush_routes')
      // Flushed: no gateway route is left for MPLS's routes to collide with.
      expect(await c.vm(201).run('ip -j route | jq -M "[.[] | select(.gateway != null)] | length"')).toBe('0\n')
      for (const r of ROUTERS) await otc(c, 'mpls', r, 'enable_mpls')
      await otc(c, 'mpls', 201, 'edge 203 204')
      await otc(c, 'mpls', 202, 'edge 204 203')
      await otc(c, 'mpls', 203, 'intermediate')
      await otc(c, 'mpls', 204, 'intermediate')
      await otc(c, 'mpls', 1, 'ping 192.168.2.221')
      await otc(c, 'mpls', 1, 'ping 1000::1:192.168.2.221')
      expect(await c.vm(201).run('ip route show 192.168.2.0/24')).toMatch(/encap mpls\s+201 /)
    } finally {
      await c.stop()
    }
  })

  test('srv6.sh test simple: version, flush_routes, enable_srv6, the segments, then ping over SRv6', async () => {
    const c = await start('srv6')
    try {
      expect(await otc(c, 'srv6', 1, 'version')).toContain(`Xcluster: ${VERSION}`)
      for (const r of ROUTERS) await otc(c, 'srv6', r, 'flush_routes')
      for (const r of ROUTERS) await otc(c, 'srv6', r, 'enable_srv6')
      for (const [vm, tc] of [[203, 'intermediate'], [204, 'intermediate'], [201, 'decapsulate'], [202, 'decapsulate'], [201, 'sr 192.168.2.0 203 202'], [202, 'sr 192.168.1.0 204 201']] as const) await otc(c, 'srv6', vm, tc)
      await otc(c, 'srv6', 1, 'ping 1000::1:192.168.2.221')
      await otc(c, 'srv6', 1, 'ping 192.168.2.221')
      expect(await c.vm(201).run('ip route show 192.168.2.0/24')).toContain('encap seg6')
    } finally {
      await c.stop()
    }
  })
})
