// The diamond topology in bridge mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('diamond', 'bridge', options, checks)
