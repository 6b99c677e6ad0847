// The dual-path topology in user mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('dual-path', 'user', options, checks)
