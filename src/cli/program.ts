import { Command, Option } from 'commander';
import { NEXUS_VERSION } from '../shared/version';
import { agentsCommand } from './commands/agents';
import { commandsCommand } from './commands/commands';
import { dlqCommand } from './commands/dlq';
import { eventsCommand } from './commands/events';
import { statusCommand } from './commands/status';
import { DEFAULT_SERVER, FORMATS } from './options';

/** Every nexusctl command, registered on the root program (one file per command in ./commands). */
const COMMANDS: readonly ((program: Command) => void)[] = [statusCommand, agentsCommand, commandsCommand, eventsCommand, dlqCommand];

/** The nexusctl program: global flags (each with its environment variable) and the commands. */
export function buildProgram(): Command {
  const program = new Command('nexusctl')
    .description('Operate a Nexus cluster over its gRPC API: status, agents, commands, dead letters, events.')
    .version(NEXUS_VERSION, '--version', 'print the version')
    .addOption(new Option('-s, --server <target>', `gRPC target of any replica (host:port, dns:///name:port, ipv4:a:p,b:p) [env NEXUS_ADDR, default ${DEFAULT_SERVER}]`))
    .addOption(new Option('-o, --output <format>', 'output format [default table]').choices(FORMATS))
    .addOption(new Option('--timeout <seconds>', 'deadline of each request and of connecting [env NEXUS_TIMEOUT, default 10]'))
    .addOption(new Option('--token <token>', 'bearer token [env NEXUS_TOKEN]'))
    .addOption(new Option('--token-file <path>', 'read the bearer token from a file [env NEXUS_TOKEN_FILE]'))
    .addOption(new Option('--tls', 'connect with TLS (the system CAs unless --ca) [env NEXUS_TLS=1]'))
    .addOption(new Option('--ca <path>', 'CA certificate (PEM) of the server [env NEXUS_TLS_CA]'))
    .addOption(new Option('--cert <path>', 'client certificate (PEM), for mTLS [env NEXUS_TLS_CERT]'))
    .addOption(new Option('--key <path>', 'client key (PEM), for mTLS [env NEXUS_TLS_KEY]'))
    .addOption(new Option('--no-color', 'no colour (also NO_COLOR; never colour when not on a terminal)'))
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false);
  for (const register of COMMANDS) register(program);
  return program;
}
