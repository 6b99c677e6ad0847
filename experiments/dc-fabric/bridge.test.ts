// The data-center fabric in bridge mode.
import { fabricSuite } from './suite.ts'

fabricSuite('bridge')
