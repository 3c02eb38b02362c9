import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';

/** Where the Lua files live (copied next to the compiled code by the build). */
export const SCRIPTS_DIR = join(__dirname, 'scripts');

/** `connectAgent-7.lua` -> { name: 'connectAgent', numberOfKeys: 7 } */
export function splitFilename(file: string): { name: string; numberOfKeys: number } {
  const match = /^([a-zA-Z]+)-(\d+)\.lua$/.exec(file);
  if (!match) throw new Error(`Lua script ${file} must be named <camelName>-<numberOfKeys>.lua`);
  return { name: match[1], numberOfKeys: Number(match[2]) };
}

/** Replaces `--- @include "includes/x.lua"` lines with that file (each once per script). */
export function resolveIncludes(source: string, dir = SCRIPTS_DIR, seen = new Set<string>()): string {
  return source.replace(/^--- @include "([^"]+)"$/gm, (_line, path: string) => {
    if (seen.has(path)) return '';
    seen.add(path);
    return resolveIncludes(readFileSync(join(dir, path), 'utf8'), dir, seen);
  });
}

/**
 * Defines every script in SCRIPTS_DIR as an ioredis command. ioredis sends EVALSHA and falls
 * back to EVAL on NOSCRIPT, so a SCRIPT FLUSH or a Redis restart needs no reload here.
 */
export function defineScripts(redis: Redis): void {
  for (const file of readdirSync(SCRIPTS_DIR)) {
    if (!file.endsWith('.lua')) continue;
    const { name, numberOfKeys } = splitFilename(file);
    redis.defineCommand(name, { numberOfKeys, lua: resolveIncludes(readFileSync(join(SCRIPTS_DIR, file), 'utf8')) });
  }
}
