// L4 load balancing with IPVS in user mode.
import { ipvsSuite } from './suite.ts'

ipvsSuite('user')
