// WireGuard between routers in user mode.
import { wireguardSuite } from './suite.ts'

wireguardSuite('user')
