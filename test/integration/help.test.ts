import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AGENT_SETTINGS } from '../../src/agent/settings';
import { ORCHESTRATOR_SETTINGS } from '../../src/orchestrator/settings';
import { toFlag } from '../../src/shared/config-reader';
import { shownDefault, type SettingsTable } from '../../src/shared/settings';
import { AGENT_BIN, ORCHESTRATOR_BIN } from '../helpers/processes';

const run = promisify(execFile);

/** Runs a built binary to its exit; a non-zero exit is returned, not thrown. */
async function runBin(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function expectEverySetting(help: string, table: SettingsTable): void {
  for (const [variable, setting] of Object.entries(table)) {
    const shown = shownDefault(setting).replace(/`/g, '');
    expect(help, variable).toContain(`  ${variable}, ${toFlag(variable)} (default: ${shown})\n`);
  }
}

describe('--help of the built binaries', () => {
  it('nexus-orchestrator lists every setting with its flag and default, and exits 0', async () => {
    const { code, stdout } = await runBin(ORCHESTRATOR_BIN, ['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: nexus-orchestrator /);
    expectEverySetting(stdout, ORCHESTRATOR_SETTINGS);
    expect(stdout).toContain('  GRPC_PORT, --grpc-port (default: 50051)\n      gRPC port (0 = any free port)\n');
    expect(stdout).toContain('See docs/operations.md');
  });

  it('nexus-agent lists every setting with its flag and default, and exits 0', async () => {
    const { code, stdout } = await runBin(AGENT_BIN, ['-h']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: nexus-agent /);
    expectEverySetting(stdout, AGENT_SETTINGS);
    expect(stdout).toContain('  CAPABILITIES, --capabilities (default: scan,report,analyze,execute)\n');
    expect(stdout).toContain('See docs/operations.md');
  });

  it('a bad value stops the program at start with exit 1, naming the variable', async () => {
    const orchestrator = await runBin(ORCHESTRATOR_BIN, [], { GRPC_PORT: 'fifty' });
    expect(orchestrator.code).toBe(1);
    expect(orchestrator.stderr.trim()).toBe('nexus-orchestrator: invalid configuration: GRPC_PORT: "fifty" is not an integer');
    const agent = await runBin(AGENT_BIN, ['--max-concurrency=0']);
    expect(agent.code).toBe(1);
    expect(agent.stderr.trim()).toBe('nexus-agent: invalid configuration: MAX_CONCURRENCY: 0 is outside 1..10000');
  });
});
