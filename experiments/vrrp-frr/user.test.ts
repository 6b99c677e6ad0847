// VRRP with FRR's vrrpd in user mode.
import { vrrpFrrSuite } from './suite.ts'

vrrpFrrSuite('user')
