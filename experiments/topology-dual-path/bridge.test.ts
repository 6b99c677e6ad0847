// The dual-path topology in bridge mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('dual-path', 'bridge', options, checks)
