#!/usr/bin/env node
// The reaper of one owner process (as testcontainers' Ryuk is of a test
// session). The first cluster a process owns starts it, detached. It waits
// until that process is gone (its pid no longer the process that started at
// the recorded time, or a zombie), then runs `xc cleanup` in the home, which
// removes by their records what the dead owner's clusters left: relays,
// namespaces with their bridges and taps, port blocks, state directories
// (their QEMUs die with the owner already, by PR_SET_PDEATHSIG). Then it
// exits. Plain JavaScript: it runs with bare node.
//   reaper.mjs <owner pid> <owner start time> <home> <path of bin/xc.js>
import { readFileSync } from 'node:fs'
import { spawn } from 'node:child_process'

const [pid, startTime, home, xc] = process.argv.slice(2)
if (!pid || !startTime || !home || !xc) {
  console.error('usage: reaper.mjs <owner-pid> <owner-start-time> <home> <xc.js>')
  process.exit(2)
}

/** True while the owner runs: same start time, not a zombie. */
function ownerAlive() {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[0] !== 'Z' && fields[19] === startTime
  } catch {
    return false
  }
}

const timer = setInterval(() => {
  if (ownerAlive()) return
  clearInterval(timer)
  const child = spawn(process.execPath, [xc, 'cleanup'], { env: { ...process.env, XCLUSTER_HOME: home }, stdio: 'ignore' })
  child.on('exit', (code) => process.exit(code ?? 1))
  child.on('error', () => process.exit(1))
}, 200)
