// The evil_tester topology in user mode.
import { topologySuite } from 'xcluster/vitest'
import { checks, options } from './checks.ts'

topologySuite('evil_tester', 'user', options, checks)
