// SCTP multihoming in user mode.
import { sctpSuite } from './suite.ts'

sctpSuite('user')
