// The anycast gateway in bridge mode.
import { anycastSuite } from './suite.ts'

anycastSuite('bridge')
