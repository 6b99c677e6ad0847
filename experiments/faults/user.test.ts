// Fault injection in user mode.
import { faultSuite } from './suite.ts'

faultSuite('user')
