// The multihop topology in user mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('multihop', 'user', options, checks)
