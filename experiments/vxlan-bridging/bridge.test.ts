// VXLAN bridging in bridge mode.
import { vxlanSuite } from './suite.ts'

vxlanSuite('bridge')
