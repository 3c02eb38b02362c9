import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DLQ, INGRESS, issue } from '../helpers/commands';
import { useOrchestrator } from '../helpers/in-process';
import { nexusctl, NEXUSCTL_BIN } from '../helpers/nexusctl';
import { waitFor } from '../helpers/wait-for';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const TOKENS = { viewer: 'tok-viewer-ctl-5e1a7c', operator: 'tok-operator-ctl-3b9d2f' };
const ESC = '\u001b[';

/** nexusctl on a pseudo-terminal (util-linux `script`): what a person at a terminal sees. */
function onTerminal(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const line = [process.execPath, NEXUSCTL_BIN, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    execFile('script', ['-qec', line, '/dev/null'], { env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env }, timeout: 20_000 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, output: stdout });
    });
  });
}

describe('nexusctl conventions (no server needed)', () => {
  const COMMANDS = [['status'], ['agents'], ['events'], ['dlq'], ['dlq', 'list'], ['dlq', 'redrive'], ['dlq', 'purge']];

  it('--help of every command exits 0 and shows Examples', async () => {
    for (const cmd of COMMANDS) {
      const r = await nexusctl([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout, cmd.join(' ')).toContain('Examples:\n  nexusctl ');
      expect(r.stdout).not.toContain(ESC);
    }
  });

  it('a reader that closes the pipe early (`| head`) ends it quietly: exit 0, no EPIPE stack', async () => {
    const proc = spawn(process.execPath, [NEXUSCTL_BIN, 'commands', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.destroy(); // nobody reads: every write gets EPIPE
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });

  it('bad flags are usage errors (exit 2) naming the flag', async () => {
    for (const cmd of [['status'], ['agents'], ['events'], ['dlq', 'list']]) {
      const bogus = await nexusctl(['-o', 'bogus', ...cmd]);
      expect(bogus.code, cmd.join(' ')).toBe(2);
      expect(bogus.stderr).toMatch(/-o, --output|-o\/--output/);
      const after = await nexusctl([...cmd, '-o', 'bogus']);
      expect(after.code).toBe(2);
      expect(after.stderr).toContain('--output');
      const unknown = await nexusctl([...cmd, '--bogus']);
      expect(unknown.code, cmd.join(' ')).toBe(2);
      expect(unknown.stderr).toContain("unknown option '--bogus'");
      const timeout = await nexusctl([...cmd, '--timeout', '0']);
      expect(timeout.code, cmd.join(' ')).toBe(2);
      expect(timeout.stderr).toContain('--timeout');
    }
    const limit = await nexusctl(['dlq', 'list', '--limit', '0']);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('--limit');
    const after = await nexusctl(['events', '--after', 'yesterday']);
    expect(after.code).toBe(2);
    expect(after.stderr).toContain('--after');
    const both = await nexusctl(['events', '--after', '1-0', '--since', '1m']);
    expect(both.code).toBe(2);
  });

  it('an unreachable server exits 4 within --timeout, streams included', async () => {
    for (const cmd of [['status'], ['agents'], ['dlq', 'list'], ['events'], ['events', '-f'], ['events', '-f', '-o', 'jsonl']]) {
      const started = Date.now();
      const r = await nexusctl(['--server', '127.0.0.1:1', '--timeout', '2', ...cmd], { timeoutMs: 15_000 });
      const elapsed = Date.now() - started;
      expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toContain('cannot reach 127.0.0.1:1');
      expect(elapsed, cmd.join(' ')).toBeLessThan(6000);
      expect(r.stdout).toBe('');
    }
  });
});

describe('nexusctl with roles (AUTH_TOKENS_FILE)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nexusctl-tokens-'));
  writeFileSync(join(dir, 'tokens'), [`viewer bob ${sha(TOKENS.viewer)}`, `operator alice ${sha(TOKENS.operator)}`].join('\n'));
  const fx = useOrchestrator({ AUTH_TOKENS_FILE: join(dir, 'tokens'), WAKE_POLL_MS: '200', INGRESS_BLOCK_MS: '200' });
  const as = (token: string | undefined, args: string[], extra: Record<string, string> = {}) =>
    nexusctl(args, { env: { NEXUS_ADDR: `127.0.0.1:${fx.port}`, NEXUS_TIMEOUT: '5', ...(token ? { NEXUS_TOKEN: token } : {}), ...extra } });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a viewer lists, but purging or redriving exits 5 and changes nothing; an operator may', async () => {
    const db = fx.redis.client();
    await db.xadd(INGRESS, '*', ...issue('nobody', 'bad-role-1', 'echo', ['priority', 'urgent']));
    await waitFor('the dead letter', async () => (await db.xlen(DLQ)) === 1);

    const list = await as(TOKENS.viewer, ['dlq', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('bad-role-1');
    expect((await as(TOKENS.viewer, ['agents'])).code).toBe(0);
    expect((await as(TOKENS.viewer, ['events', '--since', '5m'])).code).toBe(0);

    const purge = await as(TOKENS.viewer, ['dlq', 'purge', '--reason', 'invalid', '--yes']);
    expect(purge.code).toBe(5);
    expect(purge.stderr).toContain('role viewer (viewer/bob) may not call PurgeDeadLetters');
    const byId = await as(TOKENS.viewer, ['dlq', 'redrive', '1-0']);
    expect(byId.code).toBe(5);
    expect(await db.xlen(DLQ)).toBe(1);

    const anonymous = await as(undefined, ['dlq', 'list']);
    expect(anonymous.code).toBe(5);
    expect(anonymous.stderr).toContain('--token');
    const anonymousFollow = await as(undefined, ['events', '-f']);
    expect(anonymousFollow.code).toBe(5);

    const operator = await as(TOKENS.operator, ['dlq', 'purge', '--reason', 'invalid', '--yes']);
    expect(operator.code, operator.stderr).toBe(0);
    expect(operator.stdout).toBe('purged 1 dead letter\n');
    expect(await db.xlen(DLQ)).toBe(0);
    db.disconnect();
  });

  it('colour on a terminal only: none with NO_COLOR or --no-color', async () => {
    const env = { NEXUS_ADDR: `127.0.0.1:${fx.port}`, NEXUS_TIMEOUT: '5', NEXUS_TOKEN: TOKENS.viewer };
    const db = fx.redis.client();
    await db.xadd(INGRESS, '*', ...issue('nobody', 'bad-colour-1', 'echo', ['priority', 'urgent']));
    await waitFor('the dead letter', async () => (await db.xlen(DLQ)) === 1);
    db.disconnect();
    const coloured = await onTerminal(['dlq', 'list'], env);
    expect(coloured.code, coloured.output).toBe(0);
    expect(coloured.output).toContain(`${ESC}31minvalid`);
    const noColor = await onTerminal(['dlq', 'list'], { ...env, NO_COLOR: '1' });
    expect(noColor.output).toContain('bad-colour-1');
    expect(noColor.output).not.toContain(ESC);
    const flag = await onTerminal(['dlq', 'list', '--no-color'], env);
    expect(flag.output).toContain('bad-colour-1');
    expect(flag.output).not.toContain(ESC);
  });

  it('NO_COLOR and piped output: no escape codes', async () => {
    for (const args of [['status'], ['agents'], ['events', '--since', '5m'], ['events', '--since', '5m', '-o', 'wide'], ['dlq', 'list'], ['dlq', 'purge', '--all']]) {
      for (const extra of [{}, { NO_COLOR: '1' }] as Record<string, string>[]) {
        const r = await as(TOKENS.viewer, args, extra);
        expect(r.stdout + r.stderr, args.join(' ')).not.toContain(ESC);
      }
    }
  });
});
