// BGP with FRR in user mode.
import { bgpSuite } from './suite.ts'

bgpSuite('user')
