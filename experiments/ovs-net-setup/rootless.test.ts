// Open vSwitch through the net-setup hook, bridge mode rootless (a user namespace of the cluster's own).
import { ovsSuite } from './suite.ts'

ovsSuite(true)
