import type { Command } from 'commander';
import { GetCommandRequest, GetCommandResponse } from '../../generated/nexus/prime/pulse';
import { action, type CliContext } from '../context';
import { CliError, EXIT } from '../exit-codes';
import { summaryLine } from '../follow/follow';
import { progressBar } from '../follow/progress-bar';
import { age, iso } from '../output';
import { coloredState, cut, detailCell, examples, parseCount, TERMINAL_STATES } from './commands-common';

/** GetCommand, with NOT_FOUND as exit 3 naming the id. */
export async function getCommand(ctx: CliContext, id: string, childrenPageSize = 100): Promise<GetCommandResponse> {
  try {
    return await ctx.client.call('getCommand', GetCommandRequest.fromPartial({ commandId: id, childrenPageSize }));
  } catch (err) {
    if (err instanceof CliError && err.code === EXIT.NOT_FOUND) throw new CliError(`command ${id} not found (never seen, or its record expired)`, EXIT.NOT_FOUND);
    throw err;
  }
}

const when = (ctx: CliContext, atMs: number | string): string => {
  const n = Number(atMs);
  if (!n) return '-';
  return ctx.out.format === 'wide' ? `${age(n)} ago (${iso(n)})` : `${age(n)} ago`;
};

/** The human view of one command (get, and send --wait). */
export function printCommand(ctx: CliContext, c: GetCommandResponse): void {
  const { out } = ctx;
  const col = out.color;
  const fields: [string, string][] = [
    ['Command', c.commandId],
    ['State', coloredState(out, c.state)],
    c.selector ? ['Selector', `${c.selector}${c.pick ? ` (pick ${c.pick})` : ''}`] : ['Target', c.target || '-'],
    ['Type', c.commandType],
    ['Priority', String(c.priority)],
    ['Attempts', c.maxAttempts ? `${c.attempts}/${c.maxAttempts}` : String(c.attempts)],
  ];
  if (c.handledBy) fields.push(['Handled by', c.handledBy]);
  if (c.deliveredBy) fields.push(['Delivered by', c.deliveredBy]);
  if (c.correlationId) fields.push(['Correlation', c.correlationId]);
  if (c.parentId) fields.push(['Parent', c.parentId]);
  if (c.redriveOf) fields.push(['Redrive of', c.redriveOf]);
  if (c.submittedBy) fields.push(['Submitted by', c.submittedBy]);
  fields.push(['Created', when(ctx, c.createdAtUnixMs)]);
  if (Number(c.finishedAtUnixMs)) fields.push(['Finished', when(ctx, c.finishedAtUnixMs)]);
  if (c.deadReason) fields.push(['Dead letter', col.red(c.deadReason)]);
  const width = Math.max(...fields.map(([k]) => k.length)) + 2;
  for (const [k, v] of fields) out.write(`${`${k}:`.padEnd(width)}${v}\n`);
  if (c.progress && !TERMINAL_STATES.has(c.state)) {
    out.write(`${'Progress:'.padEnd(width)}${progressBar(c.progress.percent, { ascii: !out.color.isColorSupported })} ${c.progress.message}\n`);
  } else if (c.progress) {
    out.write(`${'Progress:'.padEnd(width)}${Math.round(c.progress.percent)}% ${c.progress.message}\n`);
  }
  if (c.output) out.write(`${'Output:'.padEnd(width)}${c.output.includes('\n') ? `\n${c.output.replace(/\n?$/, '\n')}` : `${c.output}\n`}`);
  if (c.error) out.write(`${'Error:'.padEnd(width)}${col.red(c.error)}\n`);
  if (c.timeline.length) {
    out.write('\nTimeline:\n');
    out.write(`${out.tableText(c.timeline, [
      { header: 'STEP', cell: (e) => e.event },
      { header: 'AT', cell: (e) => when(ctx, e.atUnixMs) },
      { header: 'REPLICA', cell: (e) => e.replicaId || '-' },
      { header: 'ATTEMPT', cell: (e) => (e.attempt ? String(e.attempt) : '-') },
      { header: 'DETAIL', cell: (e) => cut(e.detail, 100) || '-' },
    ])}\n`);
  }
  const f = c.fanout;
  if (f) {
    out.write(`\n${summaryLine(c).replace(/^summary: /, 'Fan-out: ')}\n`);
    out.write(`  ${f.launched} launched, ${f.running} running, ${f.pending} pending, ${f.notStarted} not started, ${f.finished} finished${f.batchSpec ? `; batch ${f.batchSpec}` : ''}${f.maxFailures ? `, max failures ${f.maxFailures}` : ''}${Number(f.batchWaitMs) ? `, batch wait ${f.batchWaitMs} ms` : ''}${f.includeOffline ? ', include offline' : ''}\n`);
    if (f.skippedAgents.length) out.write(`  skipped: ${f.skippedAgents.join(', ')}\n`);
    if (f.children.length) {
      out.write('\nChildren:\n');
      out.write(`${out.tableText(f.children, [
        { header: 'COMMAND', cell: (k) => k.commandId },
        { header: 'AGENT', cell: (k) => k.target },
        { header: 'STATE', cell: (k) => coloredState(out, k.state) },
        { header: 'ATTEMPTS', cell: (k) => String(k.attempts) },
        { header: 'FINISHED', cell: (k) => (Number(k.finishedAtUnixMs) ? age(Number(k.finishedAtUnixMs)) : '-') },
        { header: 'ERROR/PROGRESS', cell: (k) => detailCell(k) },
      ])}\n`);
      if (f.childrenNextPageToken) out.note(`(more children: nexusctl commands list --parent ${c.commandId})`);
    }
  }
}

/** `nexusctl commands get <id>`: GetCommand; reports, does not judge (exit 0 whenever it exists). */
export function commandsGetCommand(group: Command): void {
  group
    .command('get')
    .argument('<id>', 'command id')
    .description('Show one command: state, attempts, timeline, progress, output or error; a fan-out parent\'s counts and children')
    .option('--children-limit <n>', 'fan-out parents: children shown (first page, at most 1000)', '100')
    .addHelpText('after', examples([
      'nexusctl commands get deploy-42',
      'nexusctl commands get deploy-42 -o wide          # ISO times too',
      'nexusctl commands get deploy-42 -o json | jq .state',
    ]))
    .action(
      action(async (ctx, id: string, flags: { childrenLimit: string }) => {
        const c = await getCommand(ctx, id, parseCount('--children-limit', flags.childrenLimit, { min: 1, max: 1000 }));
        ctx.out.document(GetCommandResponse.toJSON(c), () => printCommand(ctx, c));
      }),
    );
}
