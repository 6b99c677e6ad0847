import { describe, expect, it } from 'vitest'
import { formatRcFailures, parseRcReport, rcFailureLine } from '../../src/pure/rc-failure.ts'
import { consoleReport } from '../../src/vitest/fixtures.ts'
import type { RunningCluster } from '../../src/cluster/running-cluster.ts'

// The report as the boot script writes it (see BOOT_SCRIPT in src/image/guest-files.ts).
const REPORT = [
  'script /etc/init.d/20bad.rc', 'exit 3', 'stdout', '|net.ipv4.ip_forward = 1', '|', '|script looks like a keyword', 'stderr', '|bird: Is a directory',
  'script /etc/init.d/30noexec.rc', 'not-executable',
  'script /etc/init.d/40quiet.rc', 'exit 1', 'stdout', 'stderr', '',
].join('\n')

describe('the rc failure report', () => {
  it('parses each script, its code and its labelled lines (a line of output that looks like a keyword stays output)', () => {
    expect(parseRcReport(REPORT)).toEqual([
      { script: '/etc/init.d/20bad.rc', exitCode: 3, notExecutable: false, stdout: ['net.ipv4.ip_forward = 1', '', 'script looks like a keyword'], stderr: ['bird: Is a directory'] },
      { script: '/etc/init.d/30noexec.rc', notExecutable: true, stdout: [], stderr: [] },
      { script: '/etc/init.d/40quiet.rc', exitCode: 1, notExecutable: false, stdout: [], stderr: [] },
    ])
    expect(parseRcReport('')).toEqual([])
  })

  it('formats them labelled, naming the VM, the script, the code and where the whole output is', () => {
    const [bad, noexec, quiet] = parseRcReport(REPORT)
    expect(rcFailureLine(bad)).toBe('/etc/init.d/20bad.rc exited with 3')
    expect(formatRcFailures('vm-201', [bad, noexec, quiet])).toBe([
      'vm-201: rc script /etc/init.d/20bad.rc exited with 3',
      '  stdout (last 3 lines, all in /var/log/20bad.rc.log):',
      '    net.ipv4.ip_forward = 1',
      '    ',
      '    script looks like a keyword',
      '  stderr (last 1 line, all in /var/log/20bad.rc.err):',
      '    bird: Is a directory',
      'vm-201: rc script /etc/init.d/30noexec.rc is not executable (not run; chmod +x it in the overlay)',
      'vm-201: rc script /etc/init.d/40quiet.rc exited with 1',
      '  stdout: (nothing)',
      '  stderr: (nothing)',
    ].join('\n'))
  })
})

describe('the console report of a failing test', () => {
  const vm = (num: number, console: string, rcReport = '') => ({
    num, name: `vm-${String(num).padStart(3, '0')}`, rcFailures: parseRcReport(rcReport),
    console: () => console, consoleTail: () => console.trim(),
  })
  it('has a section per VM that printed something, one line for those that printed nothing, and the rc failures', () => {
    const cluster = { vms: [vm(1, 'xc-phase: ready 1.0\n'), vm(2, ''), vm(3, ''), vm(4, '\n'), vm(201, 'boot\n', REPORT)] } as unknown as RunningCluster
    expect(consoleReport(cluster, 5)).toBe([
      '--- vm-001 console (last 5 lines) ---', 'xc-phase: ready 1.0',
      '--- vm-201 rc scripts that failed at boot ---', formatRcFailures('vm-201', parseRcReport(REPORT)),
      '--- vm-201 console (last 5 lines) ---', 'boot',
      '--- nothing on the console of vm-002..vm-004 ---',
    ].join('\n'))
  })
})
