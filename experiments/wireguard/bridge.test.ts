// WireGuard between routers in bridge mode.
import { wireguardSuite } from './suite.ts'

wireguardSuite('bridge')
