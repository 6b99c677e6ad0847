// The data-center fabric in user mode.
import { fabricSuite } from './suite.ts'

fabricSuite('user')
