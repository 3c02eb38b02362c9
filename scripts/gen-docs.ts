/**
 * `npm run docs`: regenerates the settings tables of docs/operations.md from the settings
 * tables in code (src/orchestrator/settings.ts, src/agent/settings.ts).
 * `npm run docs -- --check` changes nothing and exits 1 naming any table that is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { markers, regenerate, staleBlocks } from './lib/settings-docs';

// Compiled to dist/scripts/gen-docs.js; the repository root is two levels up.
const ROOT = join(__dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'operations.md');
const NAME = relative(ROOT, DOC);

function main(args: readonly string[]): number {
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    console.error(`gen-docs: unknown argument ${unknown.join(' ')} (usage: gen-docs [--check])`);
    return 2;
  }
  try {
    const doc = readFileSync(DOC, 'utf8');
    if (args.includes('--check')) {
      const stale = staleBlocks(doc);
      for (const name of stale) {
        console.error(`${NAME}: the ${name} settings table (${markers(name).begin}) is out of date; run npm run docs`);
      }
      if (stale.length === 0) console.log(`${NAME}: settings tables are up to date`);
      return stale.length === 0 ? 0 : 1;
    }
    const next = regenerate(doc);
    if (next !== doc) writeFileSync(DOC, next);
    console.log(`${NAME}: settings tables ${next === doc ? 'already up to date' : 'regenerated'}`);
    return 0;
  } catch (err) {
    console.error(`${NAME}: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
