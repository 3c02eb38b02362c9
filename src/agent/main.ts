#!/usr/bin/env node
import { createWriteStream } from 'node:fs';
import type { Command } from '../generated/nexus/prime/pulse';
import { ConfigError } from '../shared/config-error';
import { createLogger } from '../shared/logger';
import { parentWatchRequested, watchParent } from '../shared/parent-watch';
import { settingsHelp } from '../shared/settings-help';
import { Agent } from './agent';
import { loadAgentCliConfig, type AgentCliConfig } from './config';
import { AGENT_SETTINGS } from './settings';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(settingsHelp('nexus-agent', AGENT_SETTINGS));
    return;
  }
  let config: AgentCliConfig;
  let parentWatch: boolean;
  try {
    config = loadAgentCliConfig(process.env, argv);
    parentWatch = parentWatchRequested(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`nexus-agent: invalid configuration: ${err.message}`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  process.on('unhandledRejection', (reason) => logger.error({ err: String(reason) }, 'unhandled rejection'));

  const base = config.agent;
  const ids = config.agentCount === 1 ? [base.agentId] : Array.from({ length: config.agentCount }, (_, i) => `${base.agentId}-${i + 1}`);
  const agents = ids.map((agentId) => new Agent({ ...base, agentId, displayName: config.agentCount === 1 ? base.displayName : agentId }, { logger }));
  if (config.executionLog) {
    // One line per run, for checking "effect once" from outside (tests, chaos runs).
    const log = createWriteStream(config.executionLog, { flags: 'a' });
    for (const agent of agents) {
      agent.on('execute', (c: Command) => {
        log.write(`${JSON.stringify({ agent: agent.options.agentId, command_id: c.commandId, attempt: c.attempt, type: c.commandType, t: Date.now() })}\n`);
      });
    }
  }
  let running = agents.length;
  for (const agent of agents) {
    agent.once('give-up', () => {
      if (--running === 0) {
        logger.error('every agent gave up; exiting');
        process.exit(1);
      }
    });
  }

  let stopping = false;
  let unwatchParent = (): void => undefined;
  const stop = (signal: NodeJS.Signals | 'parent-gone'): void => {
    unwatchParent();
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal, agents: agents.length }, 'closing');
    void Promise.all(agents.map((a) => a.close())).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Local cluster only: its end (even a SIGKILL) closes these agents as a SIGTERM would.
  if (parentWatch) unwatchParent = watchParent(() => stop('parent-gone'));

  logger.info({ agents: agents.length, orchestrator: base.orchestrator }, 'starting');
  // N agents in one process stand for N hosts: their first attempts are spread over the
  // first backoff window (full jitter), not fired in one burst that stalls this event loop.
  const spreadMs = agents.length > 1 ? base.initialBackoffMs : 0;
  for (const agent of agents) agent.start(Math.random() * spreadMs);
}

void main();
