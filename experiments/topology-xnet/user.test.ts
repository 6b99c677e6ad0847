// The xnet topology in user mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('xnet', 'user', options, checks)
