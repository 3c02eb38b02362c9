import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replyCodesLua } from '../../src/redis-bridge/reply-codes';
import { loadScripts, resolveIncludes, SCRIPTS_DIR, splitFilename } from '../../src/redis-bridge/script-loader';

const INCLUDES_DIR = join(SCRIPTS_DIR, 'includes');

/** Lua without comments (headers mention names they do not use). */
function code(lua: string): string {
  return lua.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--.*$/gm, '');
}

/** Names the includes define: helper functions and upper-case constants. */
function definedByIncludes(): Map<string, string> {
  const names = new Map<string, string>();
  for (const file of readdirSync(INCLUDES_DIR)) {
    const text = code(readFileSync(join(INCLUDES_DIR, file), 'utf8'));
    for (const m of text.matchAll(/^local function (\w+)|^local ([A-Z_]+) =/gm)) names.set(m[1] ?? m[2], file);
  }
  return names;
}

/** Names used before (or without) their definition in `lua`. */
function usedBeforeDefined(lua: string, names: Map<string, string>): string[] {
  const text = code(lua);
  const problems: string[] = [];
  for (const [name, file] of names) {
    const use = new RegExp(`(?<!function )(?<!local )\\b${name}\\b`).exec(text);
    if (!use) continue;
    const def = new RegExp(`^local (function )?${name}\\b`, 'm').exec(text);
    if (!def || def.index > use.index) problems.push(`${name} (from includes/${file})`);
  }
  return problems;
}

describe('script file names', () => {
  it('give the command name and key count', () => {
    expect(splitFilename('routeCommands-6.lua')).toEqual({ name: 'routeCommands', numberOfKeys: 6 });
  });

  it('refuse a name without a key count, naming the convention', () => {
    expect(() => splitFilename('route.lua')).toThrow('must be named <camelName>-<numberOfKeys>.lua');
    expect(() => splitFilename('route-commands-6.lua')).toThrow('must be named');
  });
});

describe('includes', () => {
  it('go in once each, dependencies first, however often they are named', () => {
    const lua = resolveIncludes('--- @include "includes/pickReady.lua"\n--- @include "includes/timeline.lua"\nreturn 1\n');
    expect(lua.match(/^local function withStep/gm)).toHaveLength(1);
    expect(lua.match(/^local function pickReady/gm)).toHaveLength(1);
    expect(lua.indexOf('local function withStep')).toBeLessThan(lua.indexOf('local function pickReady'));
  });

  it('name the including file when an include is missing', () => {
    expect(() => resolveIncludes('--- @include "includes/nope.lua"\n', SCRIPTS_DIR, new Set(), 'x-1.lua')).toThrow('x-1.lua includes includes/nope.lua, which does not exist');
  });

  it('each declare what they use: resolved alone, nothing of another include is used before it is defined', () => {
    const names = definedByIncludes();
    for (const file of readdirSync(INCLUDES_DIR)) {
      const lua = resolveIncludes(`--- @include "includes/${file}"\n`);
      expect(usedBeforeDefined(lua, names), `includes/${file}`).toEqual([]);
    }
  });

  it('the reply codes the scripts read are the ones reply-codes.ts names', () => {
    expect(readFileSync(join(INCLUDES_DIR, 'replyCodes.lua'), 'utf8')).toBe(replyCodesLua());
  });
});

describe('every script', () => {
  const scripts = loadScripts();
  const names = definedByIncludes();

  it('is found, named by convention and resolved', () => {
    expect(scripts.map((s) => s.name)).toEqual(expect.arrayContaining(['routeCommands', 'deliverCommands', 'completeCommands', 'connectAgent', 'retireConsumer']));
    for (const s of scripts) expect(s.lua, s.file).not.toMatch(/@include/);
  });

  it('defines each helper it uses before using it', () => {
    for (const s of scripts) expect(usedBeforeDefined(s.lua, names), s.file).toEqual([]);
  });

  it('documents each of its keys, its arguments and its output in the header', () => {
    for (const s of scripts) {
      const header = /^--\[\[([\s\S]*?)\]\]/.exec(s.lua)?.[1] ?? '';
      expect(header, s.file).toMatch(/Output/);
      for (let k = 1; k <= s.numberOfKeys; k++) expect(header, `${s.file} KEYS[${k}]`).toContain(`KEYS[${k}]`);
      expect(header, `${s.file} has no KEYS[${s.numberOfKeys + 1}]`).not.toContain(`KEYS[${s.numberOfKeys + 1}]`);
      if (/\bARGV\[/.test(code(s.lua))) expect(header, s.file).toContain('ARGV[1]');
    }
  });

  it('builds no key suffix and sets no TTL from a literal (they come from keys.ts as ARGV)', () => {
    for (const s of scripts) {
      const text = code(s.lua);
      expect(text, s.file).not.toMatch(/\.\. '(:[a-z]+)'/);
      expect(text, s.file).not.toMatch(/PEXPIRE',[^)]*\b\d{3,}\b/);
    }
  });
});

describe('loadScripts', () => {
  it('refuses two files that define the same command (a rename that left the old file behind)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nexus-scripts-'));
    try {
      writeFileSync(join(dir, 'doThing-1.lua'), 'return 1\n');
      writeFileSync(join(dir, 'doThing-2.lua'), 'return 2\n');
      expect(() => loadScripts(dir)).toThrow('Lua scripts doThing-1.lua and doThing-2.lua');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
