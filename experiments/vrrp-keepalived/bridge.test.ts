// VRRP with keepalived in bridge mode.
import { vrrpSuite } from './suite.ts'

vrrpSuite('bridge')
