// The seed's experiment in user-space networking (no rights needed).
import { networkingSuite } from './suite.ts'

networkingSuite('user')
