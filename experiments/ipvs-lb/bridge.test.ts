// L4 load balancing with IPVS in bridge mode.
import { ipvsSuite } from './suite.ts'

ipvsSuite('bridge')
