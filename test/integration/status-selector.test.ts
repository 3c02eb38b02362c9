import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { useAgents } from '../helpers/agents';
import { useOrchestrator } from '../helpers/in-process';
import { getStatus, statusClient } from '../helpers/grpc-clients';

describe('GetSystemStatus by label selector', () => {
  const fx = useOrchestrator();
  const startAgent = useAgents();

  it('GetSystemStatus lists the agents a selector matches, and names the position of a bad one', async () => {
    await startAgent('s-eu', fx.port, {}, 4, { labels: { env: 'prod', region: 'eu' } });
    await startAgent('s-us', fx.port, {}, 4, { labels: { env: 'prod', region: 'us' } });
    await startAgent('s-dev', fx.port, {}, 4, { labels: { env: 'dev', region: 'eu' } });
    const client = statusClient(fx.port);
    try {
      const ids = async (selector: string) => (await getStatus(client, { selector, agentIdPrefix: 's-' })).agents.map((a) => a.agentId).sort();
      expect(await ids('env=prod')).toEqual(['s-eu', 's-us']);
      expect(await ids('region=eu,env!=prod')).toEqual(['s-dev']);
      expect(await ids('region in (us,ap)')).toEqual(['s-us']);
      await expect(getStatus(client, { selector: 'env in (eu' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^selector: at position \d+/) });
    } finally {
      client.close();
    }
  });
});
