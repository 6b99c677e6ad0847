// The x-diamond topology in user mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('x-diamond', 'user', options, checks)
