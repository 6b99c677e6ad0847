// SCTP multihoming in bridge mode.
import { sctpSuite } from './suite.ts'

sctpSuite('bridge')
