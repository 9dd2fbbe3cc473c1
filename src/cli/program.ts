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

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are not failures; anything else commander refuses is a usage error.
    process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? EXIT_OK : EXIT_USAGE
  } else {
    process.exitCode = reportFatal(err)
  }
}
// The embedded store can keep the event loop alive after it closed; `serve` exits on its own.
if (process.argv[2] !== 'serve') process.exit()
