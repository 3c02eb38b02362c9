import type { Command } from 'commander';
import { commandsCancelCommand } from './commands-cancel';
import { commandsGetCommand } from './commands-get';
import { commandsListCommand } from './commands-list';
import { commandsSendCommand } from './commands-send';
import { commandsWatchCommand } from './commands-watch';
import { examples } from './commands-common';

/** `nexusctl commands ...`: list, get, watch, send and cancel commands. */
export function commandsCommand(program: Command): void {
  const group = program
    .command('commands')
    .alias('cmd')
    .description('Find, inspect, follow, send and cancel commands')
    .addHelpText('after', examples([
      'nexusctl commands list --state running,retrying',
      'nexusctl commands get deploy-42',
      'nexusctl commands watch deploy-42',
      'id=$(nexusctl commands send --target agent-1 --type echo --payload hi)',
      'nexusctl commands send -l env=prod --type sysinfo --batch 10% --follow',
      'nexusctl commands cancel --state queued --target agent-1 --yes',
    ]));
  commandsListCommand(group);
  commandsGetCommand(group);
  commandsWatchCommand(group);
  commandsSendCommand(group);
  commandsCancelCommand(group);
}
