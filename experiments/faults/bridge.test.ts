// Fault injection in bridge mode.
import { faultSuite } from './suite.ts'

faultSuite('bridge')
