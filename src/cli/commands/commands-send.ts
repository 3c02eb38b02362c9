import { Option, type Command } from 'commander';
import { GetCommandResponse, SubmitCommandRequest, SubmitCommandResponse } from '../../generated/nexus/prime/pulse';
import { action, usage } from '../context';
import { EXIT } from '../exit-codes';
import { follow, followModeOf, summaryLine } from '../follow/follow';
import { examples, parseCount, stateName, parseDuration, readPayloadFile } from './commands-common';
import { printCommand } from './commands-get';

interface SendFlags {
  target?: string;
  selector?: string;
  type?: string;
  payload?: string;
  payloadFile?: string;
  id?: string;
  priority?: string;
  ttl?: string;
  attempts?: string;
  correlation?: string;
  pick?: string;
  batch?: string;
  batchWait?: string;
  maxFailures?: string;
  includeOffline?: boolean;
  wait?: boolean;
  follow?: boolean;
}

/** The SubmitCommandRequest of the flags; usage errors name the flag. */
export function submitRequestOf(flags: SendFlags): SubmitCommandRequest {
  if (flags.target !== undefined && flags.selector !== undefined) throw usage('--target and -l/--selector: give one of them, not both');
  if (flags.target === undefined && flags.selector === undefined) throw usage('give --target <agent> or -l/--selector <selector>');
  if (flags.target === '') throw usage('--target must not be empty');
  if (flags.selector === '') throw usage('-l/--selector must not be empty (`*` = every agent)');
  if (!flags.type) throw usage('--type is required');
  if (flags.payload !== undefined && flags.payloadFile !== undefined) throw usage('--payload and --payload-file: give one of them, not both');
  const rollout = flags.pick !== undefined || flags.batch !== undefined || flags.batchWait !== undefined || flags.maxFailures !== undefined || flags.includeOffline;
  if (rollout && flags.selector === undefined) throw usage('--pick, --batch, --batch-wait, --max-failures and --include-offline need -l/--selector');
  if (flags.pick !== undefined && flags.pick !== 'all' && flags.pick !== 'any') throw usage(`--pick must be all or any, got ${JSON.stringify(flags.pick)}`);
  if (flags.batch !== undefined) {
    const m = /^(\d+)(%?)$/.exec(flags.batch.trim());
    if (!m || Number(m[1]) < 1 || (m[2] && Number(m[1]) > 100)) throw usage(`--batch must be N (at least 1) or N% (1..100%), got ${JSON.stringify(flags.batch)}`);
  }
  if (flags.wait && flags.follow) throw usage('--wait and --follow: give one of them');
  const batchWaitMs = flags.batchWait !== undefined ? parseDuration('--batch-wait', flags.batchWait) : 0;
  if (batchWaitMs > 3_600_000) throw usage(`--batch-wait must be at most 1h, got ${JSON.stringify(flags.batchWait)}`);
  return SubmitCommandRequest.fromPartial({
    target: flags.target ?? '',
    selector: flags.selector ?? '',
    commandType: flags.type,
    commandId: flags.id ?? '',
    priority: flags.priority ?? '',
    payload: flags.payloadFile !== undefined ? readPayloadFile(flags.payloadFile) : (flags.payload ?? ''),
    correlationId: flags.correlation ?? '',
    maxAttempts: flags.attempts !== undefined ? parseCount('--attempts', flags.attempts, { min: 1, max: 100 }) : 0,
    ttlMs: flags.ttl !== undefined ? parseDuration('--ttl', flags.ttl) : 0,
    pick: flags.pick ?? '',
    batch: flags.batch?.trim() ?? '',
    batchWaitMs,
    maxFailures: flags.maxFailures !== undefined ? parseCount('--max-failures', flags.maxFailures, { min: 1, max: 1_000_000 }) : 0,
    includeOffline: Boolean(flags.includeOffline),
  });
}

/** `nexusctl commands send`: SubmitCommand; prints the id, or waits for / follows the outcome. */
export function commandsSendCommand(group: Command): void {
  group
    .command('send')
    .description('Send a command to one agent (--target) or to the agents a selector matches (-l); prints its id')
    .option('--target <agent>', 'the agent to run it')
    .option('-l, --selector <selector>', 'label selector instead of --target (env=prod,region in (eu,us),!canary; * = every agent)')
    .option('--type <type>', 'command type (required)')
    .option('--payload <text>', 'payload text')
    .option('--payload-file <path>', 'read the payload from a file (- = stdin)')
    .option('--id <id>', 'command id (default: generated)')
    .option('--priority <p>', '1 (lowest) .. 10 (highest), or low|medium|high|critical [default 5]')
    .option('--ttl <duration>', 'dead-letter as expired if not delivered within this (30s, 5m, 1h)')
    .option('--attempts <n>', 'max attempts')
    .option('--correlation <id>', 'correlation id')
    .addOption(new Option('--pick <all|any>', 'with -l: all (one child per agent, default) or any (one least-loaded agent)'))
    .option('--batch <N|N%>', 'rollout: children running at a time')
    .option('--batch-wait <duration>', 'rollout: pause after a child ends before its slot starts the next one')
    .option('--max-failures <n>', 'rollout: stop after this many failed or dead children')
    .option('--include-offline', 'with -l: send to offline matching agents too (they run it when they connect)')
    .option('--wait', 'wait until it ends, print its output or error; exit 0 succeeded, 1 failed/dead/cancelled (a fan-out: any child)')
    .option('--follow', 'follow it live after sending (as `commands watch`)')
    .addHelpText('after', examples([
      'nexusctl commands send --target agent-1 --type echo --payload hello',
      'id=$(nexusctl commands send --target agent-1 --type sleep --payload 5000) && nexusctl commands watch "$id"',
      'nexusctl commands send --target agent-1 --type echo --payload-file - --wait < payload.txt',
      'nexusctl commands send -l env=prod --type sysinfo --batch 10% --max-failures 2 --follow',
      'nexusctl commands send -l \'agent_type=worker\' --pick any --type job --payload 42 --wait',
    ]))
    .action(
      action(async (ctx, flags: SendFlags) => {
        const req = submitRequestOf(flags);
        const res = await ctx.client.call('submitCommand', req);
        const { out } = ctx;
        if (!flags.wait && !flags.follow) {
          out.document(SubmitCommandResponse.toJSON(res), () => out.write(`${res.commandId}\n`));
          return EXIT.OK;
        }
        out.note(`command ${res.commandId} sent`);
        if (flags.follow) {
          const { final, code } = await follow(ctx, res.commandId, followModeOf(out));
          if (out.format === 'json' || out.format === 'yaml') out.document(GetCommandResponse.toJSON(final), () => undefined);
          return code;
        }
        const { final, code } = await follow(ctx, res.commandId, 'quiet');
        out.document(GetCommandResponse.toJSON(final), () => {
          if (final.fanout) {
            printCommand(ctx, final);
            out.write(`${summaryLine(final)}\n`);
          } else if (code === EXIT.OK) {
            out.write(final.output.endsWith('\n') || final.output === '' ? final.output : `${final.output}\n`);
          } else {
            out.note(`command ${final.commandId} ${stateName(final.state)}${final.deadReason ? ` (${final.deadReason})` : ''}${final.error ? `: ${final.error}` : ''}`);
          }
        });
        return code;
      }),
    );
}
