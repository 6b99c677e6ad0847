// A custom start procedure, as xcluster's XCLUSTER_HOOK with its own
// cmd_start: a fourth network (net 3) joins the two routers only. The hook
// changes the plan, lets the harness prepare the host side (which makes the
// bridge of net 3), looks at that bridge, boots, and registers its own undo.
import { expect, test } from 'xcluster/vitest'
import type { StartContext } from 'xcluster'
import { NEEDS_BRIDGE_RIGHTS, canBridge } from '../../fixtures/index.ts'

// Bridge mode only: without root or CAP_NET_ADMIN every test is skipped, its
// name saying why, and the cluster is never started.
const named = (name: string): string => (canBridge ? name : `${name} (skipped: ${NEEDS_BRIDGE_RIGHTS})`)

const events: string[] = []

async function startWithRouterLink(ctx: StartContext): Promise<void> {
  ctx.addNic(201, 3)
  ctx.addNic(202, 3)
  await ctx.prepareNetwork()
  const br = await ctx.hostExec(['ip', '-br', 'link', 'show', 'xcbr3'])
  if (br.exitCode !== 0) throw new Error(`no bridge for net 3: ${br.stderr}`)
  events.push('bridge xcbr3 made')
  ctx.onStop('router link note', () => void events.push('stopped'))
  await ctx.boot()
}

test.override('clusterOptions', { scope: 'file' }, {
  name: 'router-link',
  nvm: 1,
  nrouters: 2,
  network: 'bridge',
  stdAddresses: true,
  start: startWithRouterLink,
})

/** Bytes the bridge of net 3 has forwarded, read in the cluster's namespace. */
async function bridgeBytes(cluster: { hostExec: (a: string[]) => Promise<{ stdout: string }> }): Promise<number> {
  const { stdout } = await cluster.hostExec(['ip', '-s', '-j', 'link', 'show', 'xcbr3'])
  const [link] = JSON.parse(stdout) as Array<{ stats64: { rx: { bytes: number } } }>
  return link.stats64.rx.bytes
}

test.skipIf(!canBridge)(named('the routers have a third NIC on net 3; the node does not'), async ({ cluster }) => {
  expect(events).toContain('bridge xcbr3 made')
  expect(await cluster.vm(201).run('cat /sys/class/net/eth3/address')).toBe('00:00:00:01:03:c9\n')
  expect((await cluster.vm(1).exec('ls /sys/class/net/eth2')).exitCode).not.toBe(0)
})

test.skipIf(!canBridge)(named('vm-201 reaches vm-202 over net 3, and the traffic crosses the bridge of net 3'), async ({ cluster }) => {
  const before = await bridgeBytes(cluster)
  expect(await cluster.vm(201).run('ping -c3 -i0.2 -W2 192.168.3.202')).toContain('3 packets received')
  await expect(cluster.vm(202)).toReach('1000::1:192.168.3.201')
  expect(await bridgeBytes(cluster)).toBeGreaterThan(before)
})

test.skipIf(!canBridge)(named('the node is not on net 3 and has no route to it'), async ({ cluster }) => {
  await expect(cluster.vm(1)).not.toReach('192.168.3.201', 1)
})
