// The evil_tester topology in bridge mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('evil_tester', 'bridge', options, checks)
