// VXLAN bridging in user mode.
import { vxlanSuite } from './suite.ts'

vxlanSuite('user')
