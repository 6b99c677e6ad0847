// BGP with FRR in bridge mode.
import { bgpSuite } from './suite.ts'

bgpSuite('bridge')
