// What the layer builder makes of maintainer scripts' file work, without
// running them: the shell reader (variables, for loops, find | while read,
// here-documents), the file actions it finds in real Debian 12 scripts
// (bird2, nginx-common, frr, openvswitch-switch, lldpd), and the lines the
// emulation gives for a stage on disk: dpkg-statoverride never makes a
// directory (bird2's /etc/bird/bird.conf became one: the bug this fixes),
// ucf copies its template, update-alternatives links the best existing
// target, and a path with `..` or a link climbing out of the stage is
// refused. Pure, except the temporary stage.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { accountFiles } from '../../src/packages/accounts.ts'
import { emulate } from '../../src/packages/emulate.ts'
import { scanFileActions, type FileAction } from '../../src/packages/file-actions.ts'
import { emptyAccounts, scanMaintainerScript } from '../../src/packages/maintainer.ts'
import { HEREDOC, scriptCommands, TREE } from '../../src/packages/shell-words.ts'
import { StageView, UnsafePathError } from '../../src/packages/stage-view.ts'

/** bird2 2.0.12's postinst, its configure part (as shipped). */
const BIRD2 = `if [ "$1" = "configure" ]; then
    if ! getent passwd bird > /dev/null; then
\tadduser --quiet --system --group --no-create-home --home /run/bird bird
    fi
    dpkg-statoverride --list /etc/bird > /dev/null || dpkg-statoverride --update --add bird bird 0750 /etc/bird
    ucf /usr/share/bird2/bird.conf /etc/bird/bird.conf
    ucfr -f bird2 /etc/bird/bird.conf
    dpkg-statoverride --list /etc/bird/bird.conf > /dev/null || dpkg-statoverride --update --add bird bird 0640 /etc/bird/bird.conf
fi
`

/** nginx-common 1.22.1's postinst, its log files (variables set, then used). */
const NGINX = `    logdir="/var/log/nginx"
    if ! dpkg-statoverride --list "$logdir" >/dev/null; then
      chown root:adm $logdir
      chmod 0755 $logdir
    fi
    if [ -z "$2" ]; then
      access_log="$logdir/access.log"
      if [ ! -e "$access_log" ]; then
        touch "$access_log"
        chmod 640 "$access_log"
        chown www-data:adm "$access_log"
      fi
    fi
`

describe('scriptCommands', () => {
  it('expands variables set to literals, and leaves unknown ones unexpanded', () => {
    expect(scriptCommands('a=/x\nb="$a/y"\nc=$(hostname)\ntouch $b "$c" ${a}/z $1\n')).toEqual([['touch', '/x/y', '$c', '/x/z', '\u0000$1']])
  })

  it('runs a for loop body once per value, with variables set in the body', () => {
    const ovs = 'for base in conf.db .conf.db.~lock~; do\n\tnew=/var/lib/openvswitch/$base\n\told=/etc/openvswitch/$base\n\tif test ! -e $old; then\n\t\tln -s $new $old\n\tfi\ndone\n'
    expect(scriptCommands(ovs).filter((c) => c[0] === 'ln')).toEqual([
      ['ln', '-s', '/var/lib/openvswitch/conf.db', '/etc/openvswitch/conf.db'],
      ['ln', '-s', '/var/lib/openvswitch/.conf.db.~lock~', '/etc/openvswitch/.conf.db.~lock~'],
    ])
  })

  it("reads FRR's `find DIRS ... | while read filename` loop as every path under each DIR", () => {
    const frr = 'find \\\n\t/etc/frr \\\n\t/var/log/frr \\\n\t\t\\( -uid 0 -o -uid $q \\) | \\\n\twhile read filename; do\n\t\tchown frr: "$filename"\n\t\tchmod o-rwx "$filename"\ndone\n'
    expect(scriptCommands(frr)).toEqual([
      ['chown', 'frr:', `${TREE}/etc/frr`], ['chmod', 'o-rwx', `${TREE}/etc/frr`],
      ['chown', 'frr:', `${TREE}/var/log/frr`], ['chmod', 'o-rwx', `${TREE}/var/log/frr`],
    ])
  })

  it('gives a here-document to its command (not as commands), and splits at ; && || | outside quotes, comments left out', () => {
    expect(scriptCommands("cat > /etc/x <<'EOF'\ntouch /not/a/command\nEOF\ntouch /a; touch '/b;c' && echo '#' # touch /c\n")).toEqual([
      ['cat', '>', '/etc/x', '<<EOF', `${HEREDOC}touch /not/a/command\n`], ['touch', '/a'], ['touch', '/b;c'], ['echo', '#'],
    ])
    // kmod's /etc/modules: written when absent; a here-document that expands unknown variables is not.
    expect(scanFileActions('cat <<END > /etc/modules\n# modules\nEND\ncat > /etc/y <<END\n$HOME\nEND\n')).toEqual([{ kind: 'write', path: '/etc/modules', text: '# modules\n' }])
  })

  it('knows `dirname PATH` of a known path (dh_apparmor: mkdir -p `dirname "$LOCAL_APP_PROFILE"`)', () => {
    expect(scanMaintainerScript('P="/etc/apparmor.d/local/usr.sbin.dhcpd"\nmkdir -p `dirname "$P"`\n').dirs).toEqual([{ path: '/etc/apparmor.d/local' }])
  })
})

describe('scanFileActions', () => {
  it("reads bird2's statoverrides and ucf, in order; ucfr is nothing", () => {
    expect(scanFileActions(BIRD2)).toEqual([
      { kind: 'statoverride', path: '/etc/bird', user: 'bird', group: 'bird', mode: '0750' },
      { kind: 'copy', src: '/usr/share/bird2/bird.conf', dest: '/etc/bird/bird.conf', preserve: true },
      { kind: 'statoverride', path: '/etc/bird/bird.conf', user: 'bird', group: 'bird', mode: '0640' },
    ])
  })

  it("reads nginx-common's chown, chmod and touch through its variables", () => {
    expect(scanFileActions(NGINX)).toEqual([
      { kind: 'chown', path: '/var/log/nginx', user: 'root', group: 'adm', recursive: false },
      { kind: 'chmod', path: '/var/log/nginx', mode: '0755', recursive: false },
      { kind: 'touch', path: '/var/log/nginx/access.log' },
      { kind: 'chmod', path: '/var/log/nginx/access.log', mode: '640', recursive: false },
      { kind: 'chown', path: '/var/log/nginx/access.log', user: 'www-data', group: 'adm', recursive: false },
    ])
  })

  it('reads update-alternatives --install with slaves, ignores dpkg-maintscript-helper and paths that are not literal', () => {
    const a = scanFileActions([
      'update-alternatives --install /usr/bin/which which /usr/bin/which.debianutils 0 \\',
      '  --slave /usr/share/man/man1/which.1.gz which.1.gz /usr/share/man/man1/which.debianutils.1.gz',
      'dpkg-maintscript-helper rm_conffile /etc/cron.daily/passwd 1:4.7-2\\~ -- "$@"',
      'chown root:root "$1" /etc/*.conf',
      'dpkg-statoverride --add root root 0755 "$FILE"',
    ].join('\n'))
    expect(a).toEqual([{
      kind: 'alternative', link: '/usr/bin/which', name: 'which', path: '/usr/bin/which.debianutils', priority: 0,
      slaves: [{ link: '/usr/share/man/man1/which.1.gz', name: 'which.1.gz', path: '/usr/share/man/man1/which.debianutils.1.gz' }],
    }])
  })
})

describe('emulate', () => {
  let stage = ''
  afterEach(() => void (stage && rmSync(stage, { recursive: true, force: true })))
  const make = (files: Record<string, string>, links: Record<string, string> = {}): StageView => {
    stage = mkdtempSync(join(tmpdir(), 'xc-stage-'))
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(join(stage, p, '..'), { recursive: true })
      if (p.endsWith('/')) mkdirSync(join(stage, p), { recursive: true })
      else writeFileSync(join(stage, p), text)
    }
    for (const [p, t] of Object.entries(links)) {
      mkdirSync(join(stage, p, '..'), { recursive: true })
      symlinkSync(t, join(stage, p))
    }
    return new StageView(stage)
  }
  const run = (view: StageView, script: string, acc = scanMaintainerScript(script)): { lines: string[]; problems: string[] } => {
    const problems: string[] = []
    return { lines: emulate(view, acc, scanFileActions(script), accountFiles(acc), problems), problems }
  }

  it("gives bird2 its config file from ucf's template, then the overrides: a file, never a directory", () => {
    const view = make({ 'etc/bird/envvars': 'x', 'usr/share/bird2/bird.conf': 'router id 1.1.1.1;' })
    const { lines, problems } = run(view, BIRD2)
    expect(problems).toEqual([])
    const bird = accountFiles(scanMaintainerScript(BIRD2)).uid.get('bird')
    expect(lines).toEqual([
      `chown ${bird}:${bird} 'root/etc/bird'`, "chmod 0750 'root/etc/bird'",
      "cp -p 'root/usr/share/bird2/bird.conf' 'root/etc/bird/bird.conf'",
      `chown ${bird}:${bird} 'root/etc/bird/bird.conf'`, "chmod 0640 'root/etc/bird/bird.conf'",
    ])
    expect(lines.join('\n')).not.toMatch(/mkdir/)
  })

  it('does not make a directory of a statoverride path that is not there (dpkg-statoverride --update applies to what exists)', () => {
    const view = make({ 'usr/sbin/': '' })
    expect(run(view, 'dpkg-statoverride --update --add root root 4755 /usr/sbin/absent\n').lines).toEqual([])
  })

  it('links the alternative of highest priority whose target exists, and its slaves whose targets exist', () => {
    const view = make({ 'usr/lib/a/x': '', 'usr/lib/b/x': '', 'usr/sbin/': '' })
    const { lines } = run(view, [
      'update-alternatives --install /usr/sbin/x x /usr/lib/a/x 10 --slave /usr/share/man/man8/x.8.gz x.8.gz /usr/share/man/man8/xa.8.gz',
      'update-alternatives --install /usr/sbin/x x /usr/lib/b/x 50',
      'update-alternatives --install /usr/sbin/x x /usr/lib/c/x 90',
    ].join('\n'))
    expect(lines).toEqual([
      "mkdir 'root/etc'", "mkdir 'root/etc/alternatives'",
      "ln -s '/usr/lib/b/x' 'root/etc/alternatives/x'",
      "ln -s '/etc/alternatives/x' 'root/usr/sbin/x'",
    ])
  })

  it('resolves paths inside the stage: a link a package ships is followed as in a chroot, never on the host', () => {
    const view = make({ 'etc/shadow': '' }, { 'etc/evil': '/etc', 'var/log/app': '../../etc' })
    // An absolute link leads to the stage's /etc, not the host's.
    expect(view.resolve('/etc/evil/shadow', true)).toBe('etc/shadow')
    expect(view.resolve('/var/log/app/shadow', true)).toBe('etc/shadow')
    expect(run(view, 'chown root:adm /etc/evil/shadow\n').lines).toEqual(["chown 0:4 'root/etc/shadow'"])
  })

  it('refuses a path with `..` and a link that climbs above the root, naming them', () => {
    const view = make({ 'etc/': '' }, { 'etc/up': '../../../../tmp' })
    expect(() => view.resolve('/etc/../../tmp/x', true)).toThrow(UnsafePathError)
    expect(() => view.resolve('/etc/up/x', true)).toThrow(/the link \/etc\/up -> \.\.\/\.\.\/\.\.\/\.\.\/tmp points outside the layer/)
    const { lines, problems } = run(view, 'mkdir -p /etc/../../../tmp/pwned\ntouch /etc/up/pwned\n')
    expect(lines).toEqual([])
    expect(problems).toEqual([
      'directory /etc/../../../tmp/pwned: a directory of a maintainer script "/etc/../../../tmp/pwned" has a `..` component',
      'touch /etc/up/pwned: the link /etc/up -> ../../../../tmp points outside the layer',
    ])
  })

  it("applies FRR's find loop to each tree, and the user's own group for `chown frr:`", () => {
    const view = make({ 'etc/frr/frr.conf': '', 'var/log/frr/': '' })
    const acc = scanMaintainerScript('addgroup --system frr\nadduser --system --ingroup frr frr\n')
    const actions: FileAction[] = [{ kind: 'chown', path: '/etc/frr', user: 'frr', loginGroup: true, recursive: true }, { kind: 'chmod', path: '/etc/frr', mode: 'o-rwx', recursive: true }]
    const problems: string[] = []
    expect(emulate(view, acc, actions, accountFiles(acc), problems)).toEqual(["chown -R 200:200 'root/etc/frr'", "chmod -R o-rwx 'root/etc/frr'"])
    expect(emulate(view, emptyAccounts(), [], accountFiles(emptyAccounts()), problems)).toEqual([])
  })
})
