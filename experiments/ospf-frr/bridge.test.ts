// OSPFv2 with FRR in bridge mode.
import { ospfSuite } from './suite.ts'

ospfSuite('bridge')
