import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';

/** Where the Lua files live (copied next to the compiled code by the build). */
export const SCRIPTS_DIR = join(__dirname, 'scripts');

const INCLUDE = /^--- @include "([^"]+)"$/gm;

/** `connectAgent-7.lua` -> { name: 'connectAgent', numberOfKeys: 7 } */
export function splitFilename(file: string): { name: string; numberOfKeys: number } {
  const match = /^([a-zA-Z]+)-(\d+)\.lua$/.exec(file);
  if (!match) throw new Error(`Lua script ${file} must be named <camelName>-<numberOfKeys>.lua`);
  return { name: match[1], numberOfKeys: Number(match[2]) };
}

/**
 * Replaces each `--- @include "includes/x.lua"` line with that file, its own includes first
 * (an include declares what it needs). Each file goes in once per script: the first include
 * wins, so a helper is defined before everything that includes it.
 */
export function resolveIncludes(source: string, dir = SCRIPTS_DIR, seen = new Set<string>(), from = 'script'): string {
  return source.replace(INCLUDE, (_line, path: string) => {
    if (seen.has(path)) return '';
    seen.add(path);
    const file = join(dir, path);
    if (!existsSync(file)) throw new Error(`${from} includes ${path}, which does not exist in ${dir}`);
    return resolveIncludes(readFileSync(file, 'utf8'), dir, seen, path);
  });
}

/** Every script of SCRIPTS_DIR: its command name, key count and Lua text with includes resolved. */
export function loadScripts(dir = SCRIPTS_DIR): { name: string; numberOfKeys: number; file: string; lua: string }[] {
  const scripts = readdirSync(dir)
    .filter((file) => file.endsWith('.lua'))
    .sort()
    .map((file) => ({ ...splitFilename(file), file, lua: resolveIncludes(readFileSync(join(dir, file), 'utf8'), dir, new Set(), file) }));
  // Two files of one name (a rename left the old one behind) would define the command twice.
  const seen = new Map<string, string>();
  for (const { name, file } of scripts) {
    const other = seen.get(name);
    if (other) throw new Error(`Lua scripts ${other} and ${file} in ${dir} define the same command ${name}; remove the stale one`);
    seen.set(name, file);
  }
  return scripts;
}

/**
 * Defines every script in SCRIPTS_DIR as an ioredis command. ioredis sends EVALSHA and falls
 * back to EVAL on NOSCRIPT, so a SCRIPT FLUSH or a Redis restart needs no reload here.
 */
export function defineScripts(redis: Redis): void {
  for (const { name, numberOfKeys, lua } of loadScripts()) redis.defineCommand(name, { numberOfKeys, lua });
}
