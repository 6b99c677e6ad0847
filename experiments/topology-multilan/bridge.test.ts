// The multilan topology in bridge mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('multilan', 'bridge', options, checks)
