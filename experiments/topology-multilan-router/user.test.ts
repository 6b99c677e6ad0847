// The multilan-router topology in user mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('multilan-router', 'user', options, checks)
