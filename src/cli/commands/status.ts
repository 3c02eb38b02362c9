import type { Command } from 'commander';
import { GetSystemStatusRequest, GetSystemStatusResponse } from '../../generated/nexus/prime/pulse';
import { action } from '../context';
import { age } from '../output';

/** `nexusctl status`: replicas, agents by state, the ingress, the DLQ, commands by state. */
export function statusCommand(program: Command): void {
  program
    .command('status')
    .description('Show the cluster: replicas, agents by state, ingress, dead letters, commands by state')
    .addHelpText('after', '\nExamples:\n  nexusctl status\n  nexusctl status -o json | jq .commands')
    .action(
      action(async (ctx) => {
        const res = await ctx.client.call('getSystemStatus', GetSystemStatusRequest.fromPartial({ summaryOnly: true }));
        const { out } = ctx;
        out.document(GetSystemStatusResponse.toJSON(res), () => {
          const c = out.color;
          out.table(res.replicas, [
            { header: 'REPLICA', cell: (r) => r.replicaId },
            { header: 'READY', cell: (r) => (r.ready ? c.green('yes') : c.red('no')) },
            { header: 'AGENTS', cell: (r) => String(r.connectedAgents) },
            { header: 'AGE', cell: (r) => age(Number(r.startedAtUnixMs)) },
            { header: 'ADDRESS', cell: (r) => r.address, wide: true },
            { header: 'VERSION', cell: (r) => r.version, wide: true },
          ], 'No replicas alive.');
          const a = res.agentCounts;
          const i = res.ingress;
          const k = res.commands;
          out.write('\n');
          out.write(`Agents     ${a?.total ?? 0} total: ${c.green(`${a?.online ?? 0} online`)}, ${a?.stale ? c.yellow(`${a.stale} stale`) : '0 stale'}, ${a?.offline ?? 0} offline\n`);
          out.write(`Ingress    ${i?.length ?? 0} entries, ${i?.pending ?? 0} pending, lag ${i?.lag ?? 0}, ${i?.consumers ?? 0} consumers\n`);
          out.write(`DLQ        ${Number(res.dlqLength) > 0 ? c.red(String(res.dlqLength)) : '0'} dead letters\n`);
          out.write(`Commands   ${k?.queued ?? 0} queued, ${k?.delivered ?? 0} running, ${k?.retrying ?? 0} retrying; ${k?.succeeded ?? 0} succeeded, ${k?.failed ?? 0} failed, ${k?.dead ?? 0} dead, ${k?.cancelled ?? 0} cancelled\n`);
          out.write(`Answered by ${res.answeredBy}\n`);
        });
      }),
    );
}
