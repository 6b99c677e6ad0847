// OSPFv2 with FRR in bridge mode (one skipped test that says why where this process may not make bridges).
import { modeRuns } from '../../fixtures/experiment.ts'
import { ospfSuite } from './suite.ts'

if (modeRuns('bridge', 'ospf-frr-bridge: adjacencies on a LAN and point-to-point links; the path follows the costs and reroutes')) ospfSuite('bridge')
