// Draw docs/xnet.svg: the default xnet-like cluster (4 nodes, 2 routers,
// 2 testers, default nets). Run: npx tsx scripts/diagram-xnet.ts
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { topologySvg } from '../src/diagram/svg.ts'
import { allocationOf } from '../src/host/port-block.ts'
import { checkOptions } from '../src/cluster/options.ts'
import { planCluster } from '../src/plan/plan.ts'

const { spec, problems } = checkOptions({ name: 'xnet', ntesters: 2 })
if (problems.length) throw new Error(problems.join('\n'))
const plan = planCluster(spec, allocationOf('xnet', 20))
const out = fileURLToPath(new URL('../docs/xnet.svg', import.meta.url))
writeFileSync(out, topologySvg(plan, { title: 'xnet: 4 nodes, 2 routers, 2 testers' }))
console.log(`wrote ${out}`)
