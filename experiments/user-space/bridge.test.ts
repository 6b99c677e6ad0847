// The same experiment with bridges and taps in the cluster's own namespace.
import { networkingSuite } from './suite.ts'

networkingSuite('bridge')
