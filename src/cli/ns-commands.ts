// xc nsadd / nsdel: root prepares, once, what one user needs to run bridge
// mode without root (see ../host/nsadd.ts), and takes it back.
import { nsadd, nsdel, problemsAs, readNsadd } from '../host/nsadd.ts'
import { strictArgs, type Command } from './args.ts'
import { CliUsageError } from './cli-error.ts'

/** The user --user names, else the one sudo ran us for. */
function targetUser(given: string | undefined, cmd: string): string {
  const user = given ?? process.env.SUDO_USER
  if (!user) throw new CliUsageError(`name the user: xc ${cmd} --user USER (or run it through sudo, which names you)`)
  if (process.getuid?.() !== 0) throw new CliUsageError(`xc ${cmd} changes what a user may open and must run as root: sudo xc ${cmd} --user ${user}`)
  return user
}

const nsaddCmd: Command = {
  name: 'nsadd',
  summary:
    'As root, once: let USER run bridge mode without root (rootless: a user namespace per cluster). ' +
    'Gives USER read and write on /dev/net/tun (an ACL entry, and a udev rule for the next boots where udev runs) ' +
    'and, where the host forbids them, allows unprivileged user namespaces (sysctl). Then checks, as USER, that it works.',
  usage: 'nsadd [--user USER]',
  options: '  --user USER   the user (default: $SUDO_USER)',
  async run(args) {
    const { values } = strictArgs(args, { user: { type: 'string' } }, [0, 0])
    const user = targetUser(values.user, 'nsadd')
    const { changed } = await nsadd(user)
    for (const line of changed) process.stdout.write(`nsadd: ${line}\n`)
    if (!changed.length) process.stdout.write(`nsadd: nothing to change for ${user}\n`)
    const left = problemsAs(user)
    if (left.length) {
      for (const p of left) process.stderr.write(`nsadd: still: ${p}\n`)
      return 1
    }
    process.stdout.write(`nsadd: ${user} can run network: 'bridge' without root (checked as ${user}); undo with xc nsdel --user ${user}\n`)
    return 0
  },
}

const nsdelCmd: Command = {
  name: 'nsdel',
  summary: 'As root: undo what `xc nsadd` did for USER (its ACL entry on /dev/net/tun, its udev rule; the sysctls with their last user).',
  usage: 'nsdel [--user USER]',
  options: '  --user USER   the user (default: $SUDO_USER)',
  async run(args) {
    const { values } = strictArgs(args, { user: { type: 'string' } }, [0, 0])
    const user = targetUser(values.user, 'nsdel')
    if (!readNsadd(user)) {
      process.stdout.write(`nsdel: xc nsadd made nothing for ${user}\n`)
      return 0
    }
    for (const line of await nsdel(user)) process.stdout.write(`nsdel: ${line}\n`)
    return 0
  },
}

export const nsCommands: Command[] = [nsaddCmd, nsdelCmd]
