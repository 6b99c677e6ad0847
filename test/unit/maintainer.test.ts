// What a package layer makes of Debian packages without running them: the
// users, groups and directories read from maintainer scripts, sysusers.d,
// tmpfiles.d and units (src/packages/maintainer.ts), the passwd/group lines and
// shell commands made of them, the /usr merge of an unpacked tree, apt's
// simulated install read into a package list and its errors into problems,
// and the checks of the `packages` options. A wrong parse here is a daemon
// that does not start in the VM (no user) or a layer of the wrong packages,
// so the inputs are real ones (FRR's postinst, postgresql-common's, apt 2.6's
// own output). Pure, except mergeUsr on a temporary directory.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checkOptions, type ClusterOptions } from '../../src/cluster/options.ts'
import { parseSimulation, resolutionProblems } from '../../src/packages/apt.ts'
import { emptyAccounts, scanMaintainerScript, scanSysusers, scanTmpfiles, scanUnit } from '../../src/packages/maintainer.ts'
import { accountFiles, bootCommands } from '../../src/packages/accounts.ts'
import { mergeUsr } from '../../src/packages/build.ts'

/** frr 8.4's postinst, the part that makes its accounts and directories (tab-indented, as shipped). */
const FRR_POSTINST = `#!/bin/sh
set -e
addgroup --system frrvty
addgroup --system frr
adduser \\
\t--system \\
\t--ingroup frr \\
\t--home /nonexistent \\
\t--gecos "Frr routing suite" \\
\t--no-create-home \\
\tfrr
usermod -a -G frrvty frr
mkdir -m 0755 -p /var/log/frr
`

const nologin = { home: '/nonexistent', shell: '/usr/sbin/nologin', gecos: '' }

describe('scanMaintainerScript', () => {
  it("reads FRR's postinst: two groups, a user in frr and frrvty, its log directory", () => {
    expect(scanMaintainerScript(FRR_POSTINST)).toEqual({
      users: [{ name: 'frr', group: 'frr', home: '/nonexistent', shell: '/usr/sbin/nologin', gecos: 'Frr routing suite' }],
      groups: ['frrvty', 'frr'],
      members: [['frr', 'frrvty']],
      dirs: [{ path: '/var/log/frr', mode: '0755' }],
    })
  })

  it('skips redirections, and reads commands after `;`, `||`, `&&` and `then`', () => {
    const acc = scanMaintainerScript([
      'addgroup --system foo >/dev/null 2>&1',
      'addgroup --system bar > /dev/null',
      'if ! getent passwd x >/dev/null; then adduser --system --group x; fi',
      'getent group rdma > /dev/null 2>&1 || addgroup --system --quiet rdma',
      '[ "$1" = configure ] && adduser --force-badname --system --home /nonexistent --no-create-home --quiet _apt || true',
      'addgroup --system frr # a comment: adduser --system ghost',
    ].join('\n'))
    expect(acc.groups).toEqual(['foo', 'bar', 'x', 'rdma', 'frr'])
    expect(acc.users).toEqual([{ name: 'x', group: 'x', ...nologin }, { name: '_apt', group: 'nogroup', ...nologin }])
    expect(acc.members).toEqual([])
  })

  it('reads useradd -r -U (and -rU), -g, -G, -d and -s, and groupadd', () => {
    const acc = scanMaintainerScript([
      'useradd -r -U svc',
      'useradd -rU -d /var/lib/two -s /bin/sh two',
      'groupadd -r daemons',
      'useradd --system -g daemons -G dialout,daemons -c "Third one" three',
    ].join('\n'))
    expect(acc.users).toEqual([
      { name: 'svc', group: 'svc', ...nologin },
      { name: 'two', group: 'two', home: '/var/lib/two', shell: '/bin/sh', gecos: '' },
      { name: 'three', group: 'daemons', ...nologin, gecos: 'Third one' },
    ])
    expect(acc.groups).toEqual(['svc', 'two', 'daemons'])
    expect(acc.members).toEqual([['three', 'dialout'], ['three', 'daemons']])
  })

  it('reads `adduser USER GROUP` as a membership, and a bare --system user as in nogroup', () => {
    const acc = scanMaintainerScript('adduser --system --quiet lone\nadduser lone audio\nadduser --quiet lone video\n')
    expect(acc.users).toEqual([{ name: 'lone', group: 'nogroup', ...nologin }])
    expect(acc.groups).toEqual([])
    expect(acc.members).toEqual([['lone', 'audio'], ['lone', 'video']])
  })

  it('ignores names that are not literal ($USER, "$NAME", ${X})', () => {
    const acc = scanMaintainerScript([
      'adduser --system $USER',
      'adduser --system --group "$NAME"',
      'addgroup --system ${GROUP}',
      'useradd -r -U "$SVC"',
      'groupadd "$G"',
      'usermod -a -G "$G" frr',
      'mkdir -p "$DIR" /var/lib/$PKG',
    ].join('\n'))
    expect(acc).toEqual(emptyAccounts())
  })

  it("is not misled by an unquoted option variable (postgresql-common's `adduser --system $quiet ... postgres`)", () => {
    // Real lines of postgresql-common 248's postinst: $quiet is `--quiet` or nothing.
    const acc = scanMaintainerScript([
      'quiet="--quiet"',
      'if ! getent passwd postgres > /dev/null; then',
      '    adduser --system $quiet --home /var/lib/postgresql --no-create-home \\',
      '        --shell /bin/bash --group --gecos "PostgreSQL administrator" postgres',
      'fi',
      'addgroup --system $quiet postgres',
      'adduser $quiet postgres ssl-cert',
    ].join('\n'))
    expect(acc.users).toEqual([{ name: 'postgres', group: 'postgres', home: '/var/lib/postgresql', shell: '/bin/bash', gecos: 'PostgreSQL administrator' }])
    expect(acc.groups).toEqual(['postgres'])
    expect(acc.members).toEqual([['postgres', 'ssl-cert']])
  })

  it('joins a quoted part to its word (--gecos="A B"), and gives a group, home or shell by expansion the defaults', () => {
    const acc = scanMaintainerScript([
      'adduser --system --gecos="Foo daemon" --group foo',
      'adduser --system --ingroup $GROUP --home "$HOME_DIR" --shell $SH --gecos $G bar',
    ].join('\n'))
    expect(acc.users).toEqual([
      { name: 'foo', group: 'foo', home: '/nonexistent', shell: '/usr/sbin/nologin', gecos: 'Foo daemon' },
      { name: 'bar', group: 'nogroup', ...nologin },
    ])
    expect(acc.groups).toEqual(['foo'])
  })

  it('reads mkdir and install -d of literal paths, with owner and mode (dpkg-statoverride is a file action: it makes nothing)', () => {
    const acc = scanMaintainerScript([
      'mkdir -p /var/lib/a /var/lib/b',
      'install -d -o frr -g frrvty -m 0750 /etc/frr',
      'install --directory --mode=0700 /var/lib/c',
      'install -m 0644 some.conf /etc/not-a-dir',
      'dpkg-statoverride --update --add root ssl-cert 710 /etc/ssl/private',
      'dpkg-statoverride --list /usr/bin/ssh-agent',
      'mkdir relative/dir',
    ].join('\n'))
    expect(acc.dirs).toEqual([
      { path: '/var/lib/a' },
      { path: '/var/lib/b' },
      { path: '/etc/frr', user: 'frr', group: 'frrvty', mode: '0750', install: true },
      { path: '/var/lib/c', mode: '0700', install: true },
    ])
  })

  it('adds to the accounts it is given, without doubling a user or group', () => {
    const acc = scanMaintainerScript(FRR_POSTINST)
    scanMaintainerScript('addgroup --system frr\nadduser --system --group frr\n', acc)
    expect(acc.users.map((u) => u.name)).toEqual(['frr'])
    expect(acc.users[0].group).toBe('frr')
    expect(acc.groups).toEqual(['frrvty', 'frr'])
  })
})

describe('scanSysusers, scanTmpfiles and scanUnit', () => {
  it('reads sysusers.d u, g and m lines', () => {
    const acc = scanSysusers([
      '# comment',
      'u systemd-network - "systemd Network Management"',
      'u _chrony -:_chrony "Chrony daemon" /var/lib/chrony /usr/sbin/nologin',
      'u polkitd -:daemons "polkit" - -',
      'g netdev -',
      'm polkitd netdev',
      'u $bad -',
    ].join('\n'))
    expect(acc.users).toEqual([
      { name: 'systemd-network', group: 'systemd-network', gecos: 'systemd Network Management', home: '/nonexistent', shell: '/usr/sbin/nologin' },
      { name: '_chrony', group: '_chrony', gecos: 'Chrony daemon', home: '/var/lib/chrony', shell: '/usr/sbin/nologin' },
      { name: 'polkitd', group: 'daemons', gecos: 'polkit', home: '/nonexistent', shell: '/usr/sbin/nologin' },
    ])
    expect(acc.groups).toEqual(['systemd-network', '_chrony', 'netdev'])
    expect(acc.members).toEqual([['polkitd', 'netdev']])
  })

  it('reads tmpfiles.d d and D lines of literal paths only', () => {
    const acc = scanTmpfiles([
      'd /run/frr 0755 frr frr -',
      'D /var/lib/x - - -',
      'f /run/frr/file 0644 root root -',
      'L /etc/mtab - - - - ../proc/self/mounts',
      'd /run/user/%i 0700 - -',
    ].join('\n'))
    expect(acc.dirs).toEqual([{ path: '/run/frr', mode: '0755', user: 'frr', group: 'frr', install: true }, { path: '/var/lib/x', install: true }])
  })

  it("reads a unit's RuntimeDirectory= and kin, owned by its User= and Group=", () => {
    const acc = scanUnit([
      '[Service]',
      'User=frr',
      'Group=frr',
      'RuntimeDirectory=frr frr-extra',
      'RuntimeDirectoryMode=0750',
      'StateDirectory=frr',
      'LogsDirectory=',
    ].join('\n'))
    expect(acc.dirs).toEqual([
      { path: '/run/frr', mode: '0750', user: 'frr', group: 'frr', install: true },
      { path: '/run/frr-extra', mode: '0750', user: 'frr', group: 'frr', install: true },
      { path: '/var/lib/frr', user: 'frr', group: 'frr', install: true },
    ])
  })
})

describe('accountFiles and bootCommands', () => {
  it("makes FRR's passwd and group lines after Debian's fixed accounts, ids from 200, members only of known users", () => {
    const acc = scanMaintainerScript(FRR_POSTINST)
    acc.members.push(['nobody-here', 'frr'])
    const f = accountFiles(acc)
    // Debian's base-passwd accounts (not the base image's root), then the package's.
    expect(f.passwd.split('\n').slice(0, 2)).toEqual(['daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin', 'bin:x:2:2:bin:/bin:/usr/sbin/nologin'])
    expect(f.passwd).toMatch(/\nnobody:x:65534:65534:nobody:\/nonexistent:\/usr\/sbin\/nologin\nfrr:x:200:201:Frr routing suite:\/nonexistent:\/usr\/sbin\/nologin\n$/)
    expect(f.group).toMatch(/^daemon:x:1:\n.*\nwww-data:x:33:\n.*\nnogroup:x:65534:\nfrrvty:x:200:frr\nfrr:x:201:\n$/s)
    expect(f.passwd).not.toMatch(/^root:/m)
    expect([f.uid.get('frr'), f.primary.get('frr'), f.uid.get('www-data'), f.gid.get('adm')]).toEqual([200, 201, 33, 4])
    // The base image's own accounts keep their ids.
    expect([f.uid.get('root'), f.gid.get('root'), f.gid.get('tcpdump')]).toEqual([0, 0, 104])
  })

  it("gives a bare system user nogroup, and makes no line for the base image's or Debian's own accounts", () => {
    const acc = scanMaintainerScript('adduser --system _apt\nadduser --system --group tcpdump\nadduser --system --group two\nadduser --system --group www-data\n')
    const f = accountFiles(acc)
    expect(f.passwd).toMatch(/\n_apt:x:42:65534::\/nonexistent:\/usr\/sbin\/nologin\n.*\ntwo:x:200:200::\/nonexistent:\/usr\/sbin\/nologin\n$/s)
    expect(f.passwd.match(/^www-data:/gm)).toHaveLength(1)
    expect(f.group).toMatch(/\nnogroup:x:65534:\ntwo:x:200:\n$/)
  })

  it('makes the directories under /run at boot (one mkdir, then owners and modes other than 755), none other', () => {
    const acc = scanMaintainerScript(FRR_POSTINST)
    scanTmpfiles('d /run/frr 0755 frr frr -\nd /var/run/old 0700 0 0 -\nd /var/lib/ghost 0700 ghost - -\nd /run/../etc 0700 - - -\n', acc)
    expect(bootCommands(acc, accountFiles(acc))).toEqual([
      "mkdir -p '/run/frr' '/run/old'",
      "chown 200:201 '/run/frr'",
      "chown 0:0 '/run/old'",
      "chmod 0700 '/run/old'",
    ])
  })
})

describe('mergeUsr', () => {
  let stage = ''
  afterEach(() => {
    if (stage) rmSync(stage, { recursive: true, force: true })
    stage = ''
  })

  const put = (rel: string, text: string): void => {
    mkdirSync(join(stage, rel, '..'), { recursive: true })
    writeFileSync(join(stage, rel), text)
  }
  const read = (rel: string): string => readFileSync(join(stage, rel), 'utf8')

  it('moves /bin, /sbin, /lib and /lib64 into /usr, merging directories; /usr wins unless it is a link', () => {
    stage = mkdtempSync(join(tmpdir(), 'xc-mergeusr-'))
    put('bin/only-root', 'root bin\n')
    put('bin/both', 'root copy\n')
    put('usr/bin/both', 'usr copy\n')
    put('bin/linked', 'the real file\n')
    mkdirSync(join(stage, 'usr/bin'), { recursive: true })
    symlinkSync('../../bin/linked', join(stage, 'usr/bin/linked'))
    put('lib/x86_64-linux-gnu/libroot.so.1', 'root lib\n')
    put('usr/lib/x86_64-linux-gnu/libusr.so.1', 'usr lib\n')
    put('lib64/ld-linux-x86-64.so.2', 'loader\n')
    symlinkSync('usr/sbin', join(stage, 'sbin'))
    mkdirSync(join(stage, 'usr/sbin'))
    put('usr/sbin/tool', 'tool\n')
    symlinkSync('libroot.so.1', join(stage, 'lib/x86_64-linux-gnu/libroot.so'))

    mergeUsr(stage)
    expect(readdirSync(stage).sort()).toEqual(['usr'])
    expect(read('usr/bin/only-root')).toBe('root bin\n')
    expect(read('usr/bin/both')).toBe('usr copy\n')
    expect(lstatSync(join(stage, 'usr/bin/linked')).isSymbolicLink()).toBe(false)
    expect(read('usr/bin/linked')).toBe('the real file\n')
    expect(read('usr/lib/x86_64-linux-gnu/libroot.so.1')).toBe('root lib\n')
    expect(read('usr/lib/x86_64-linux-gnu/libusr.so.1')).toBe('usr lib\n')
    expect(readlinkSync(join(stage, 'usr/lib/x86_64-linux-gnu/libroot.so'))).toBe('libroot.so.1')
    expect(read('usr/lib64/ld-linux-x86-64.so.2')).toBe('loader\n')
    expect(read('usr/sbin/tool')).toBe('tool\n')
  })

  it('leaves a tree with nothing outside /usr as it is', () => {
    stage = mkdtempSync(join(tmpdir(), 'xc-mergeusr-'))
    put('usr/bin/hello', 'hi\n')
    put('etc/hello.conf', 'x\n')
    mergeUsr(stage)
    expect(readdirSync(stage).sort()).toEqual(['etc', 'usr'])
    expect(read('usr/bin/hello')).toBe('hi\n')
    expect(existsSync(join(stage, 'bin'))).toBe(false)
  })
})

describe('parseSimulation', () => {
  it("reads apt-get -s's Inst lines (name, version, arch), not its Conf lines", () => {
    const out = [
      'Reading package lists...',
      'Building dependency tree...',
      'The following NEW packages will be installed:',
      '  libc6 libgcc-s1 libssl3 tzdata',
      'Inst libgcc-s1 (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64])',
      'Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64]) []',
      'Inst libssl3 (3.0.17-1~deb12u3 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])',
      'Inst tzdata (2025b-0+deb12u2 Debian:12.15/oldstable [all])',
      'Inst hello (1.0 [amd64])',
      'Inst libfoo1:i386 (1:2.3-4 localhost [i386])',
      'Conf libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64])',
    ].join('\n')
    expect(parseSimulation(out)).toEqual([
      { name: 'libgcc-s1', version: '12.2.0-14+deb12u1', arch: 'amd64' },
      { name: 'libc6', version: '2.36-9+deb12u14', arch: 'amd64' },
      { name: 'libssl3', version: '3.0.17-1~deb12u3', arch: 'amd64' },
      { name: 'tzdata', version: '2025b-0+deb12u2', arch: 'all' },
      { name: 'hello', version: '1.0', arch: 'amd64' },
      { name: 'libfoo1:i386', version: '1:2.3-4', arch: 'i386' },
    ])
  })

  it('reads nothing from an output without Inst lines', () => {
    expect(parseSimulation('Reading package lists...\nE: Unable to locate package nosuchpkg\n')).toEqual([])
  })
})

describe('resolutionProblems', () => {
  it('names every package apt cannot locate', () => {
    const p = resolutionProblems('Reading package lists...\nE: Unable to locate package nosuchpkg\nE: Unable to locate package other\n', ['nosuchpkg', 'other'])
    expect(p).toHaveLength(2)
    expect(p[0]).toMatch(/^package nosuchpkg: not in the Debian archive/)
    expect(p[1]).toMatch(/^package other: /)
  })

  it('says a virtual package has no candidate, with its providers', () => {
    const out = [
      'Package mail-transport-agent is a virtual package provided by:',
      '  postfix 3.7.11-0+deb12u1',
      '  exim4-daemon-light 4.96-15+deb12u7',
      '',
      "E: Package 'mail-transport-agent' has no installation candidate",
    ].join('\n')
    expect(resolutionProblems(out, ['mail-transport-agent'])).toEqual([
      'package mail-transport-agent: has no installation candidate (it is virtual; name one of: postfix, exim4-daemon-light)',
    ])
    expect(resolutionProblems("E: Package 'gone' has no installation candidate\n", ['gone'])).toEqual(['package gone: has no installation candidate'])
  })

  it('gives unmet dependencies as one problem naming every conflict', () => {
    const out = [
      'Some packages could not be installed. This may mean that you have',
      'requested an impossible situation or if you are using the unstable',
      'distribution that some required packages have not yet been created',
      'or been moved out of Incoming.',
      'The following information may help to resolve the situation:',
      '',
      'The following packages have unmet dependencies:',
      ' exim4-config : Conflicts: postfix but 3.7.11-0+deb12u1 is to be installed',
      ' exim4-daemon-light : Conflicts: mail-transport-agent',
      'E: Unable to correct problems, you have held broken packages.',
    ].join('\n')
    expect(resolutionProblems(out, ['exim4-daemon-light', 'postfix'])).toEqual([
      'packages exim4-daemon-light, postfix cannot be installed together: exim4-config conflicts postfix but 3.7.11-0+deb12u1 is to be installed; exim4-daemon-light conflicts mail-transport-agent',
    ])
  })

  it('names a missing version, and falls back to the E: lines it does not know', () => {
    expect(resolutionProblems("E: Version '9.9' for 'frr' was not found\n", ['frr'])).toEqual(['package frr: no version 9.9'])
    expect(resolutionProblems('W: something\nE: The package lists are broken\n', ['a', 'b'])).toEqual(['packages a, b: apt could not resolve them: The package lists are broken'])
  })
})

describe('checkOptions: packages', () => {
  const check = (o: unknown): ReturnType<typeof checkOptions> => checkOptions(o as ClusterOptions)

  it('takes Debian names, per role and per VM, and packages imply the tools', () => {
    const { spec, problems } = check({ packages: ['frr', 'libstdc++6', 'python3.11'], packagesRole: { router: ['bird2'] }, packagesVm: { 1: ['keepalived'] } })
    expect(problems).toEqual([])
    expect(spec.packages).toEqual(['frr', 'libstdc++6', 'python3.11'])
    expect(spec.packagesRole).toEqual({ router: ['bird2'] })
    expect(spec.packagesVm).toEqual({ 1: ['keepalived'] })
    expect(spec.tools).toBe(true)
    expect(check({ packagesVm: { 2: ['frr'] } }).spec.tools).toBe(true)
    expect(check({ packagesRole: { tester: ['iperf3'] } }).spec.tools).toBe(true)
  })

  it('no packages (or empty lists) leave the tools off', () => {
    expect(check({}).spec.tools).toBe(false)
    expect(check({ packages: [], packagesRole: { node: [] }, packagesVm: { 1: [] } }).spec.tools).toBe(false)
  })

  it('names every bad package name, and a list that is not a list', () => {
    const { spec, problems } = check({ packages: ['frr', 'Bad_Name', 42, 'a', '-x'] })
    expect(problems).toHaveLength(4)
    expect(problems[0]).toContain('`packages`')
    expect(problems[0]).toContain('Bad_Name')
    expect(problems[1]).toContain('`42`')
    expect(problems[2]).toContain('`a`')
    expect(problems[3]).toContain('`-x`')
    expect(spec.packages).toEqual(['frr'])
    expect(check({ packages: 'frr' }).problems).toEqual(['Expected `packages` to be a list of Debian package names, got `frr`'])
  })

  it('checks packagesRole and packagesVm', () => {
    const problems = check({ packagesRole: { router: ['UPPER'], chef: ['frr'] }, packagesVm: { 1: ['ok', 'no space'], 999: ['frr'] } }).problems
    expect(problems).toHaveLength(4)
    expect(problems.join('\n')).toContain('`packagesRole.router`')
    expect(problems.join('\n')).toContain('`chef`')
    expect(problems.join('\n')).toContain('`packagesVm[1]`')
    expect(problems.join('\n')).toContain('`999`')
    expect(check({ packagesRole: ['frr'] }).problems).toEqual(['Expected `packagesRole` to be an object keyed by role, got `["frr"]`'])
  })

  it('refuses `tools: false` with packages', () => {
    const problems = check({ tools: false, packages: ['frr'] }).problems
    expect(problems).toEqual(['`packages` bring the tools disk (the kernel modules their programs load): drop `tools: false`'])
    expect(check({ tools: false, packagesVm: { 1: ['frr'] } }).problems).toHaveLength(1)
    expect(check({ tools: false }).problems).toEqual([])
  })
})
