// The anycast gateway in user mode.
import { anycastSuite } from './suite.ts'

anycastSuite('user')
