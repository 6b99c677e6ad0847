// scratch (not committed): boot n bare VMs with a kernel and initrd, print ready times and phases
import { planCluster, validateOptions } from '../src/index.ts'
import { bootFloor } from './floor.ts'
const [kernel, initrd, n = '1', reps = '1', ...extra] = process.argv.slice(2)
const vms = planCluster(validateOptions({ nvm: Number(n), nrouters: 0, append: extra.join(' ') || undefined }), { clusterId: 'floor', telnetBase: 0, sshBase: 0, mcastPortBase: 0, mcastGroupPrefix: '239.255.0' }).vms
for (let i = 0; i < Number(reps); i++) {
  const r = await bootFloor({ vms, accel: 'tcg', kernel, initrd, timeoutMs: 300_000, ...(process.env.STOCK ? { bootTuning: [], cpu: 'max' } : {}) })
  console.log(`${kernel.split('/').pop()} n=${n}: ${(r.ms / 1000).toFixed(2)} s; init at ${r.vms.map((v) => v.uptimes.init).join(',')}; ready at ${r.vms.map((v) => v.uptimes.ready).join(',')}`)
}
