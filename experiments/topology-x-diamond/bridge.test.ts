// The x-diamond topology in bridge mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('x-diamond', 'bridge', options, checks)
