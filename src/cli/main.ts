// The xc command line: one function per command, each with --help.
import { commands, usageOf, type Command } from './commands.ts'
import { hookCommand } from './hook-commands.ts'
import { rejectName } from './args.ts'
import { CliUsageError } from './cli-error.ts'
import { XclusterError } from '../errors.ts'

const GENERAL = `Usage: xc <command> [options]

Commands:
${Object.values(commands)
  .map((c: Command) => `  ${c.name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run \`xc <command> --help\` for a command's options.
With XCLUSTER_HOOK=module (.mjs, .js, or .ts with tsx), \`xc <fn> [start options]\` starts a
cluster by the module's start function fn (or cmd_fn), kept running as by xc start.`

/** Run xc with `argv`; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(GENERAL + '\n')
    return name ? 0 : 2
  }
  // Not an xc command: a start function of XCLUSTER_HOOK (xcluster's `xc mystart`), when one is set.
  const cmd = commands[name] ?? hookCommand(name)
  if (!cmd) {
    process.stderr.write(`xc: unknown command \`${name}\`\n\n${GENERAL}\n`)
    return 2
  }
  // rsh and wait: what follows N is the command, whose own --help is its business.
  const n = name === 'rsh' || name === 'wait' ? rest.findIndex((a) => /^\d+$/.test(a)) : -1
  const own = n < 0 ? rest : rest.slice(0, n)
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(usageOf(cmd) + '\n')
    return 0
  }
  try {
    rejectName(cmd, rest)
    return await cmd.run(rest)
  } catch (e) {
    if (e instanceof CliUsageError) {
      process.stderr.write(`xc ${name}: ${e.message}\n\n${usageOf(cmd)}\n`)
      return 2
    }
    if (e instanceof XclusterError) {
      process.stderr.write(`xc ${name}: ${e.message}\n`)
      return 1
    }
    throw e
  }
}
