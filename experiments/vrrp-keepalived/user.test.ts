// VRRP with keepalived in user mode.
import { vrrpSuite } from './suite.ts'

vrrpSuite('user')
