import type { Command } from 'commander';
import { CommandSummary, ListCommandsRequest } from '../../generated/nexus/prime/pulse';
import { action } from '../context';
import { age } from '../output';
import { addFilterOptions, coloredState, detailCell, examples, filterOf, parseCount, type FilterFlags } from './commands-common';

interface ListFlags extends FilterFlags {
  limit: string;
}

/** `nexusctl commands list`: ListCommands with the filters, newest first, following pages up to --limit. */
export function commandsListCommand(group: Command): void {
  addFilterOptions(group.command('list').alias('ls').description('List commands (newest first) matching the filters'))
    .option('--limit <n>', 'at most this many commands (follows the pages)', '100')
    .addHelpText('after', examples([
      'nexusctl commands list',
      'nexusctl commands list --state failed,dead --since 1h',
      'nexusctl commands list --target agent-1 --type sleep -o wide',
      'nexusctl commands list --parent deploy-42            # the children of a fan-out',
      'nexusctl commands list -o json | jq -r \'.commands[].commandId\'',
    ]))
    .action(
      action(async (ctx, flags: ListFlags) => {
        const limit = parseCount('--limit', flags.limit, { min: 1, max: 1_000_000 });
        const { filter } = filterOf(flags);
        const commands: CommandSummary[] = [];
        let token = '';
        do {
          const res = await ctx.client.call('listCommands', ListCommandsRequest.fromPartial({ filter, pageSize: Math.min(1000, limit - commands.length), pageToken: token }));
          commands.push(...res.commands);
          token = res.nextPageToken;
        } while (token && commands.length < limit);
        const { out } = ctx;
        const doc = { commands: commands.map((c) => CommandSummary.toJSON(c)), nextPageToken: token };
        out.list(doc, commands, (c) => CommandSummary.toJSON(c), [
          { header: 'COMMAND', cell: (c) => c.commandId },
          { header: 'STATE', cell: (c) => coloredState(out, c.state) },
          { header: 'TARGET', cell: (c) => c.target || '-' },
          { header: 'TYPE', cell: (c) => c.commandType },
          { header: 'ATTEMPTS', cell: (c) => String(c.attempts) },
          { header: 'AGE', cell: (c) => age(Number(c.createdAtUnixMs)) },
          { header: 'PRIORITY', cell: (c) => String(c.priority), wide: true },
          { header: 'PARENT', cell: (c) => c.parentId || '-', wide: true },
          { header: 'CORRELATION', cell: (c) => c.correlationId || '-', wide: true },
          { header: 'FINISHED', cell: (c) => (Number(c.finishedAtUnixMs) ? age(Number(c.finishedAtUnixMs)) : '-'), wide: true },
          { header: 'ERROR/PROGRESS', cell: (c) => detailCell(c, out.format === 'wide' ? 120 : 60) },
        ]);
        if (token && out.forPeople) out.note(`(more than ${limit}; raise --limit or narrow the filters)`);
      }),
    );
}
