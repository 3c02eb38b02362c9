import type { Command } from 'commander';
import {
  DeadLetter,
  ListDeadLettersRequest,
  ListDeadLettersResponse,
  PurgeDeadLettersRequest,
  PurgeDeadLettersResponse,
  RedriveDeadLettersRequest,
  RedriveDeadLettersResponse,
  type DeadLetterFilter,
} from '../../generated/nexus/prime/pulse';
import { runBulk } from '../bulk';
import { action, usage, type CliContext } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import { collectList } from '../flag-parsers';
import { cut, parseCount } from './commands-common';
import { age, type Column } from '../output';

interface FilterFlags {
  reason?: string[];
  target?: string;
  type?: string;
}

interface ActFlags extends FilterFlags {
  all?: boolean;
  yes?: boolean;
}

/** The server's page size bound (ListDeadLetters page_size). */
const MAX_PAGE = 1000;
/** Pages of a sparse filter can be short or empty; stop following tokens after this many. */
const MAX_PAGES = 500;

function filterOptions(cmd: Command): Command {
  return cmd
    .option('--reason <reasons>', 'only these reasons (repeatable or a comma list): invalid, failed, expired, poison, mailbox_full, cancelled_undeliverable, no_match', collectList)
    .option('--target <agent-id>', 'only dead letters for this target')
    .option('--type <command-type>', 'only dead letters of this command type');
}

/** The filter flags as a DeadLetterFilter, or undefined when none is given. */
function filterOf(flags: FilterFlags): DeadLetterFilter | undefined {
  if (!flags.reason?.length && flags.target === undefined && flags.type === undefined) return undefined;
  return { reasons: flags.reason ?? [], target: flags.target ?? '', commandType: flags.type ?? '' };
}

/** Runs a call whose filter errors are told as the flags' (see flagged). */
async function flaggedCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw flagged(err);
  }
}

/** A refusal of the filter by the server is a usage error naming the flag (`filter.reasons[0]: ...`). */
function flagged(err: unknown): unknown {
  if (err instanceof CliError && err.code === EXIT.REFUSED) {
    const m = /^filter\.(reasons|target|command_type)/.exec(err.message);
    if (m) return usage(`${{ reasons: '--reason', target: '--target', command_type: '--type' }[m[1]]}: ${err.message}`);
  }
  return err;
}

/** `nexusctl dlq list|redrive|purge`: the dead-letter queue. */
export function dlqCommand(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('Dead letters: list them, redrive (run again) or purge them, by id or by filter')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  nexusctl dlq list --reason expired,failed',
        '  nexusctl dlq redrive 1796533121894-0 1796533121894-1',
        '  nexusctl dlq redrive --reason expired --target batch-host-7 --yes',
        '  nexusctl dlq purge --reason invalid --yes',
      ].join('\n'),
    );

  filterOptions(dlq.command('list'))
    .description('List dead letters, newest first (every page up to --limit)')
    .option('--limit <n>', 'list at most this many [default 100]')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  nexusctl dlq list',
        '  nexusctl dlq list --reason expired --target batch-host-7 -o wide',
        "  nexusctl dlq list -o json | jq -r '.deadLetters[].id'",
      ].join('\n'),
    )
    .action(action(async (ctx, flags: FilterFlags & { limit?: string }) => list(ctx, flags)));

  filterOptions(dlq.command('redrive'))
    .description('Run dead-lettered commands again: the given ids, or every dead letter the filter (or --all) selects')
    .argument('[ids...]', 'dead letter ids (the ID column of dlq list)')
    .option('--all', 'every dead letter (with --yes)')
    .option('-y, --yes', 'do it: without it, a redrive by filter only counts what matches')
    .addHelpText(
      'after',
      [
        '',
        'By ids it acts at once. By filter (or --all) it first counts the matches and needs --yes.',
        'The new commands are <command id>:redrive:<dead letter id>; a repeated redrive runs nothing twice.',
        '',
        'Examples:',
        '  nexusctl dlq redrive 1796533121894-0',
        '  nexusctl dlq redrive --reason expired --target batch-host-7          # counts, exits 2',
        '  nexusctl dlq redrive --reason expired --target batch-host-7 --yes',
        '  nexusctl dlq redrive --all --yes -o json',
      ].join('\n'),
    )
    .action(action(async (ctx, ids: string[], flags: ActFlags) => redrive(ctx, ids, flags)));

  filterOptions(dlq.command('purge'))
    .description('Delete dead letters: the given ids, or every dead letter the filter (or --all) selects')
    .argument('[ids...]', 'dead letter ids (the ID column of dlq list)')
    .option('--all', 'every dead letter (with --yes)')
    .option('-y, --yes', 'do it: without it, a purge by filter only counts what matches')
    .addHelpText(
      'after',
      [
        '',
        'By ids it acts at once (ids already gone are not an error). By filter (or --all) it first counts the matches and needs --yes.',
        '',
        'Examples:',
        '  nexusctl dlq purge 1796533120780-0',
        '  nexusctl dlq purge --reason invalid            # counts, exits 2',
        '  nexusctl dlq purge --reason invalid --yes',
        '  nexusctl dlq purge --all --yes',
      ].join('\n'),
    )
    .action(action(async (ctx, ids: string[], flags: ActFlags) => purge(ctx, ids, flags)));
}

async function list(ctx: CliContext, flags: FilterFlags & { limit?: string }): Promise<ExitCode> {
  const limit = flags.limit === undefined ? 100 : parseCount('--limit', flags.limit, { max: 1_000_000 });
  const filter = filterOf(flags);
  const rows: DeadLetter[] = [];
  let token = '';
  let last: ListDeadLettersResponse | undefined;
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    last = await flaggedCall(() => ctx.client.call('listDeadLetters', ListDeadLettersRequest.fromPartial({ filter, pageSize: Math.min(MAX_PAGE, limit - rows.length), pageToken: token })));
    rows.push(...last.deadLetters);
    token = last.nextPageToken;
    if (!token || rows.length >= limit) break;
  }
  const shown = rows.slice(0, limit);
  const doc = ListDeadLettersResponse.toJSON({ deadLetters: shown, nextPageToken: token, countsByReason: last?.countsByReason ?? {}, total: last?.total ?? 0 });
  const { out } = ctx;
  const c = out.color;
  const columns: Column<DeadLetter>[] = [
    { header: 'ID', cell: (d) => d.id },
    { header: 'REASON', cell: (d) => (d.reason === 'invalid' || d.reason === 'failed' ? c.red(d.reason) : c.yellow(d.reason)) },
    { header: 'COMMAND', cell: (d) => d.commandId || '-' },
    { header: 'TARGET', cell: (d) => d.target || '-' },
    { header: 'TYPE', cell: (d) => d.commandType || '-' },
    { header: 'ATTEMPTS', cell: (d) => String(d.attempts) },
    { header: 'AGE', cell: (d) => age(d.deadAtUnixMs) },
    { header: 'REPLICA', cell: (d) => d.replicaId || '-', wide: true },
    { header: 'SOURCE', cell: (d) => d.sourceId || '-', wide: true },
    { header: 'ERROR', cell: (d) => (out.format === 'wide' ? d.error : cut(d.error.replace(/\s+/g, ' '), 60)) || '-' },
  ];
  out.list(doc, shown, (d) => DeadLetter.toJSON(d), columns);
  if (out.forPeople && last) {
    const counts = Object.entries(last.countsByReason).map(([r, n]) => `${r} ${n}`).join(', ');
    out.note(`${last.total} dead letters in the DLQ${counts ? ` (${counts})` : ''}${token ? `; showing ${shown.length}, more match (raise --limit)` : ''}`);
  }
  return EXIT.OK;
}

const DEAD_LETTERS = { one: 'dead letter', many: 'dead letters' };

/** What redrive and purge share: ids or a filter (exactly one), a dry run first for a filter. */
function selection(verb: string, ids: string[], flags: ActFlags): { ids: string[]; filter: DeadLetterFilter | undefined } {
  const filter = filterOf(flags);
  if (ids.length > 0 && (filter || flags.all)) throw usage(`give dead letter ids, or a filter (--reason, --target, --type, --all), not both`);
  if (ids.length === 0 && !filter && !flags.all) throw usage(`${verb} what? give dead letter ids, or a filter (--reason, --target, --type), or --all`);
  if (filter && flags.all) throw usage('--all selects every dead letter: leave out --reason, --target and --type, or --all');
  return { ids, filter: ids.length > 0 ? undefined : (filter ?? { reasons: [], target: '', commandType: '' }) };
}


async function redrive(ctx: CliContext, rawIds: string[], flags: ActFlags): Promise<ExitCode> {
  const sel = selection('redrive', rawIds, flags);
  const { out } = ctx;
  return runBulk(out, { noun: DEAD_LETTERS, verb: 'redrive', byFilter: sel.filter !== undefined, yes: flags.yes }, (dryRun) =>
    flaggedCall(() => ctx.client.call('redriveDeadLetters', RedriveDeadLettersRequest.fromPartial({ ids: sel.ids, filter: sel.filter, dryRun }))),
  (res, dry) => {
    out.document(RedriveDeadLettersResponse.toJSON(res), () => {
      if (dry) return;
      const before = res.commandIds.length - res.redriven;
      out.write(`redriven ${res.redriven} of ${res.matched} matched dead letter${res.matched === 1 ? '' : 's'}${before > 0 ? ` (${before} already redriven earlier)` : ''}\n`);
      for (const id of res.commandIds) out.write(`  ${id}\n`);
      if (res.matched > res.commandIds.length) out.note(`${res.matched - res.commandIds.length} matched dead letters cannot be redriven (invalid entries, cancels, cut payloads)`);
    });
    if (!dry && res.truncated) out.note('truncated: more match than one request redrives (1,000); run it again to go on (done ones are skipped)');
  });
}

async function purge(ctx: CliContext, rawIds: string[], flags: ActFlags): Promise<ExitCode> {
  const sel = selection('purge', rawIds, flags);
  const { out } = ctx;
  return runBulk(out, { noun: DEAD_LETTERS, verb: 'purge', byFilter: sel.filter !== undefined, yes: flags.yes }, (dryRun) =>
    flaggedCall(() => ctx.client.call('purgeDeadLetters', PurgeDeadLettersRequest.fromPartial({ ids: sel.ids, filter: sel.filter, dryRun }))),
  (res, dry) => {
    out.document(PurgeDeadLettersResponse.toJSON(res), () => {
      if (dry) return;
      out.write(`purged ${res.purged} dead letter${res.purged === 1 ? '' : 's'}\n`);
      if (sel.ids.length > res.purged) out.note(`${sel.ids.length - res.purged} of the ids were already gone`);
    });
    if (!dry && res.truncated) out.note('truncated: more match than one request purges (10,000); run it again to go on');
  });
}
