// VRRP with FRR's vrrpd in bridge mode.
import { vrrpFrrSuite } from './suite.ts'

vrrpFrrSuite('bridge')
