// Open vSwitch through the net-setup hook, bridge mode as root (named namespace).
import { ovsSuite } from './suite.ts'

ovsSuite(false)
