// The CLI's commands (see main.ts for what runs before this loads). Each command loads what it
// needs when it runs, not here: help, --version and the light commands stay quick.
import { Command, CommanderError } from 'commander'
import { VERSION } from '../shared/version.ts'
import { EXIT_OK, EXIT_USAGE, reportFatal } from './exit.ts'
import { registerServe } from './commands/serve.ts'
import { registerStatus } from './commands/status.ts'
import { registerClients } from './commands/clients.ts'
import { registerConnect } from './commands/connect.ts'
import { registerPeers } from './commands/peers.ts'
import { registerHive, registerDiscovery } from './commands/hive.ts'
import { registerOperator } from './commands/operator.ts'
import { registerLogin } from './commands/login.ts'
import { UsageError } from '../shared/errors.ts'
import { cliName } from '../shared/cli-name.ts'

const program = new Command()
  .name('edge-hive')
  .description('Edge Hive: MCP for agents at the edge, over HTTPS, with its own OAuth 2.1 server')
  .version(VERSION, '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  // The program's own options (-V, --version) only before the command: after it, `-V…` is the
  // command's (an approval id that starts with -V must not print the version and exit 0).
  .enablePositionalOptions()
  .exitOverride()

registerServe(program)
registerStatus(program)
registerClients(program)
registerConnect(program)
registerPeers(program)
registerHive(program)
registerDiscovery(program)
registerOperator(program)
registerLogin(program)
// What people try first, from other tools (`npm start`, `systemctl start`, `docker run`): the
// answer names the command that does it, instead of commander's nearest spelling (`status`).
for (const word of ['start', 'run']) {
  program.command(word, { hidden: true }).allowUnknownOption().allowExcessArguments().action(() => {
    throw new UsageError('unknown_command', `there is no \`${word}\` command; a node runs with \`${cliName()} serve\` (\`${cliName()} --help\` lists the commands)`)
  })
}

// An approval's id (made by the OAuth library, from A-Z a-z 0-9 _ -) starts with a dash one time in
// 64, and then reads as an option. Commander is right to refuse it (a typo must not become an id),
// so the answer shows the line that works: the id after `--`, as git and most tools take it. Not
// for what reads as a mistyped long option (--no-such-flag): options have no capital letters.
function hintIdAfterDashes (message: string): void {
  const flag = /unknown option '(-[^']{2,})'/.exec(message)?.[1]
  if (flag === undefined || (flag.startsWith('--') && !/[A-Z]/.test(flag))) return
  const args = process.argv.slice(2)
  const at = args.indexOf(flag)
  if (at < 0 || args.includes('--')) return
  const line = [cliName(), ...[...args.slice(0, at), ...args.slice(at + 1), '--', flag].map(shellWord)].join(' ')
  process.stderr.write(`if ${flag} is an id, not an option, put it after --:\n  ${line}\n`)
}

function shellWord (word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`
}

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are not failures; anything else commander refuses is a usage error.
    process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? EXIT_OK : EXIT_USAGE
    if (err.code === 'commander.unknownOption') hintIdAfterDashes(err.message)
  } else {
    process.exitCode = reportFatal(err)
  }
}
// The embedded store can keep the event loop alive after it closed; `serve` exits on its own.
if (process.argv[2] !== 'serve') process.exit()
