import { describe, expect, it } from 'vitest';
import { markers, regenerate, replaceBlock, SETTINGS_BLOCKS, settingsMarkdown, staleBlocks } from '../../scripts/lib/settings-docs';
import { ORCHESTRATOR_SETTINGS } from '../../src/orchestrator/settings';
import { toFlag } from '../../src/shared/config-reader';
import { settingsHelp, wrap } from '../../src/shared/settings-help';
import { shownDefault } from '../../src/shared/settings';

const SKELETON = ['# Ops', ...SETTINGS_BLOCKS.flatMap(({ name }) => ['', markers(name).begin, 'old text', markers(name).end]), ''].join('\n');

describe('settings tables in the docs', () => {
  it('have one row per setting with its flag, default and meaning', () => {
    for (const block of SETTINGS_BLOCKS) {
      const rows = settingsMarkdown(block).split('\n').filter((l) => l.startsWith('| `'));
      expect(rows).toHaveLength(Object.keys(block.table).length);
      for (const [variable, setting] of Object.entries(block.table)) {
        expect(rows, variable).toContain(`| \`${variable}\` | \`${toFlag(variable)}\` | ${shownDefault(setting).replace(/\|/g, '\\|')} | ${setting.meaning.replace(/\|/g, '\\|')} |`);
      }
    }
  });

  it('show plain defaults as code, computed ones as their description, empty ones as none', () => {
    expect(shownDefault(ORCHESTRATOR_SETTINGS.GRPC_PORT)).toBe('`50051`');
    expect(shownDefault(ORCHESTRATOR_SETTINGS.OFFLINE_THRESHOLD_SEC)).toBe('2 x `STALENESS_THRESHOLD_SEC`');
    expect(shownDefault(ORCHESTRATOR_SETTINGS.TLS_CERT)).toBe('none');
  });

  it('replace only what lies between the markers, and regenerating twice changes nothing', () => {
    const once = regenerate(SKELETON);
    expect(once).not.toContain('old text');
    expect(once.startsWith('# Ops\n')).toBe(true);
    expect(regenerate(once)).toBe(once);
    expect(staleBlocks(SKELETON)).toEqual(SETTINGS_BLOCKS.map((b) => b.name));
    expect(staleBlocks(once)).toEqual([]);
  });

  it('name the block that is out of date', () => {
    const [first] = SETTINGS_BLOCKS;
    const edited = replaceBlock(regenerate(SKELETON), first.name, settingsMarkdown(first).replace('`50051`', '`50052`'));
    expect(staleBlocks(edited)).toEqual([first.name]);
  });

  it('refuse a document without the markers, naming them', () => {
    const { begin, end } = markers('agent');
    expect(() => regenerate(SKELETON.replace(end, ''))).toThrow(`"${begin}" line followed by one "${end}"`);
    expect(() => staleBlocks(SKELETON.replace(begin, ''))).toThrow(begin);
    expect(() => regenerate(SKELETON.replace(end, `${end}\n${end}`))).toThrow(end);
  });
});

describe('--help text', () => {
  it('lists every setting with its flag and default, and points to the operations guide', () => {
    const help = settingsHelp('nexus-orchestrator', ORCHESTRATOR_SETTINGS);
    for (const variable of Object.keys(ORCHESTRATOR_SETTINGS)) expect(help).toContain(`  ${variable}, ${toFlag(variable)} (default: `);
    expect(help).toContain('  GRPC_PORT, --grpc-port (default: 50051)');
    expect(help).toContain('  OFFLINE_THRESHOLD_SEC, --offline-threshold-sec (default: 2 x STALENESS_THRESHOLD_SEC)');
    expect(help).toContain('docs/operations.md');
    expect(help).not.toContain('`');
  });

  it('wraps meanings at the width, keeping every word', () => {
    const text = 'consumers of the group with nothing pending, idle this long, are deleted (a clean shutdown deletes its own)';
    const lines = wrap(text, 30);
    expect(lines.every((l) => l.length <= 30)).toBe(true);
    expect(lines.join(' ')).toBe(text);
    expect(wrap('averyveryverylongword x', 5)).toEqual(['averyveryverylongword', 'x']);
  });
});
