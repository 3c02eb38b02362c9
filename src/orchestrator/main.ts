#!/usr/bin/env node
import { ConfigError } from '../shared/config-error';
import { createLogger } from '../shared/logger';
import { parentWatchRequested, watchParent } from '../shared/parent-watch';
import { settingsHelp } from '../shared/settings-help';
import { loadOrchestratorConfig, type OrchestratorConfig } from './config';
import { Orchestrator } from './orchestrator';
import { ORCHESTRATOR_SETTINGS } from './settings';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(settingsHelp('nexus-orchestrator', ORCHESTRATOR_SETTINGS));
    return;
  }
  let config: OrchestratorConfig;
  let parentWatch: boolean;
  try {
    config = loadOrchestratorConfig(process.env, argv);
    parentWatch = parentWatchRequested(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`nexus-orchestrator: invalid configuration: ${err.message}`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, { replica: config.replicaId });
  process.on('unhandledRejection', (reason) => logger.error({ err: String(reason) }, 'unhandled rejection'));

  const orchestrator = new Orchestrator(config, logger);
  let signals = 0;
  let unwatchParent = (): void => undefined;
  const stop = (signal: NodeJS.Signals | 'parent-gone'): void => {
    unwatchParent();
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    // Last resort: a shutdown that overruns the grace period must not keep the pod alive.
    setTimeout(() => {
      logger.error('shutdown overran the grace period; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 1000).unref();
    void orchestrator.shutdown(signal).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Local cluster only: its end (even a SIGKILL) drains this replica as a SIGTERM would.
  if (parentWatch) unwatchParent = watchParent(() => stop('parent-gone'));

  try {
    await orchestrator.start();
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'could not start');
    process.exit(1);
  }
}

void main();
