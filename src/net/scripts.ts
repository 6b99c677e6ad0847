// Net-setup scripts that ship with the package (fixtures/net-setup/), by path.
import { fileURLToPath } from 'node:url'

/** Open vSwitch as the cluster's network (bridge mode): a bridge per net, a tap port per NIC, the daemons the cluster's own. */
export const NET_SETUP_OVS = fileURLToPath(new URL('../../fixtures/net-setup/net-setup-ovs.sh', import.meta.url))
