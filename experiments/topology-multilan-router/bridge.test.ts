// The multilan-router topology in bridge mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('multilan-router', 'bridge', options, checks)
