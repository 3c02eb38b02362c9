import type { Command } from 'commander';
import { GetCommandResponse } from '../../generated/nexus/prime/pulse';
import { action } from '../context';
import { follow, followModeOf } from '../follow/follow';
import { examples } from './commands-common';

/** `nexusctl commands watch <id>`: WatchCommand until the command ends; the exit code is its outcome. */
export function commandsWatchCommand(group: Command): void {
  group
    .command('watch')
    .argument('<id>', 'command id')
    .description('Follow a command live until it ends (progress, log lines, steps; a fan-out\'s children); exit 0 succeeded, 1 failed/dead/cancelled')
    .addHelpText('after', examples([
      'nexusctl commands watch deploy-42',
      'nexusctl commands watch deploy-42 -o jsonl       # the raw WatchCommand messages',
      'nexusctl commands watch deploy-42 && echo done',
    ]) + '\nOn a terminal the progress bar (and a fan-out\'s per-agent rows) is redrawn in place; piped, each change is a line.\n-o json / yaml print only the command as it ended.\n')
    .action(
      action(async (ctx, id: string) => {
        const { final, code } = await follow(ctx, id, followModeOf(ctx.out));
        if (ctx.out.format === 'json' || ctx.out.format === 'yaml') ctx.out.document(GetCommandResponse.toJSON(final), () => undefined);
        return code;
      }),
    );
}
