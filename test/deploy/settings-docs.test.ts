import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { markers, SETTINGS_BLOCKS, staleBlocks } from '../../scripts/lib/settings-docs';

const DOC = join(__dirname, '..', '..', 'docs', 'operations.md');

describe('docs/operations.md', () => {
  const doc = readFileSync(DOC, 'utf8');

  it('has a marked block for every program', () => {
    for (const { name } of SETTINGS_BLOCKS) {
      expect(doc, name).toContain(markers(name).begin);
      expect(doc, name).toContain(markers(name).end);
    }
  });

  it('lists the settings exactly as the code generates them (run `npm run docs` after changing a setting)', () => {
    expect(staleBlocks(doc)).toEqual([]);
  });
});
