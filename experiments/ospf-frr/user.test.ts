// OSPFv2 with FRR in user mode.
import { ospfSuite } from './suite.ts'

ospfSuite('user')
