import type { Command } from 'commander';
import { CancelCommandsRequest, CancelCommandsResponse } from '../../generated/nexus/prime/pulse';
import { runBulk } from '../bulk';
import { action, usage } from '../context';
import { addFilterOptions, examples, filterOf, type FilterFlags } from './commands-common';

interface CancelFlags extends FilterFlags {
  reason?: string;
  yes?: boolean;
}

/** `nexusctl commands cancel <ids...>` or by filter (dry run first, then --yes). */
export function commandsCancelCommand(group: Command): void {
  addFilterOptions(
    group
      .command('cancel')
      .argument('[ids...]', 'command ids (or use the filters)')
      .description('Cancel commands by id, or every command matching the filters (shows the count first; needs --yes)'),
  )
    .option('--reason <text>', 'recorded with each cancel')
    .option('--yes', 'cancel what the filters match (without it: only show how many match)')
    .addHelpText('after', examples([
      'nexusctl commands cancel deploy-42',
      'nexusctl commands cancel a-1 a-2 --reason "wrong payload"',
      'nexusctl commands cancel --state queued --target agent-1          # shows the count, exits 2',
      'nexusctl commands cancel --state queued --target agent-1 --yes',
    ]))
    .action(
      action(async (ctx, ids: string[], flags: CancelFlags) => {
        const { filter, given } = filterOf(flags);
        const { out } = ctx;
        const reason = flags.reason ?? '';
        if (ids.length > 0 && given) throw usage('give command ids or filter flags (--state, --target, ...), not both');
        if (ids.length === 0 && !given) throw usage('give command ids or at least one filter flag (--state, --target, --type, --correlation, --parent, --since, --until)');
        const print = (res: CancelCommandsResponse): void =>
          out.document(CancelCommandsResponse.toJSON(res), () =>
            out.write(`${res.submitted} cancel${Number(res.submitted) === 1 ? '' : 's'} requested for ${res.matched} matching command${Number(res.matched) === 1 ? '' : 's'}${res.truncated ? ' (truncated: run again for the rest)' : ''}\n`),
          );
        return runBulk(out, { noun: { one: 'command', many: 'commands' }, verb: 'cancel', byFilter: ids.length === 0, yes: flags.yes, plus: true }, (dryRun) =>
          ctx.client.call('cancelCommands', CancelCommandsRequest.fromPartial(ids.length > 0 ? { commandIds: ids, reason } : { filter, dryRun, reason })),
        print);
      }),
    );
}
