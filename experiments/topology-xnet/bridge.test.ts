// The xnet topology in bridge mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('xnet', 'bridge', options, checks)
