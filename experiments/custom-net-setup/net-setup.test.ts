// A cluster whose every NIC comes from an xcluster-style net-setup script
// (fixtures/net-setup/net-setup-userspace.sh), as xcluster's __net_setup.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'xcluster/vitest'
import { NET_SETUP_USERSPACE } from '../../fixtures/index.ts'

test.override('clusterOptions', { scope: 'file' }, {
  name: 'net-setup',
  nvm: 2,
  nrouters: 0,
  network: { base: 'user', netSetup: NET_SETUP_USERSPACE },
  stdAddresses: true,
})

test('the script was asked for every NIC of every VM', async ({ cluster }) => {
  const calls = readFileSync(join(cluster.stateDir, 'net-setup.log'), 'utf8').trim().split('\n').sort()
  expect(calls).toEqual(['1 0', '1 1', '2 0', '2 1'])
})

test("the harness reaches telnet on the script's forward (XCLUSTER_TELNET_BASE + vm)", async ({ cluster }) => {
  expect(await cluster.vm(2).run('hostname')).toBe('vm-002\n')
})

test("vm-001 reaches vm-002 over the script's net 1, IPv4 and IPv6", async ({ cluster }) => {
  await expect(cluster.vm(1)).toReach('192.168.1.2')
  await expect(cluster.vm(1)).toReach('1000::1:192.168.1.2')
})

test('the MACs the script gave follow the model, so the hostnames do too', async ({ cluster }) => {
  expect(await cluster.vm(1).run('cat /sys/class/net/eth1/address')).toBe('00:00:00:01:01:01\n')
})
