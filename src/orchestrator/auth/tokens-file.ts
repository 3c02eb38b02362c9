import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { agentIdProblem } from '../../shared/agent-id';
import { ConfigError } from '../../shared/config-error';
import type { Role } from './caller';
import { ROLES } from './rpc-roles';

/** The setting naming the tokens file (ConfigErrors name it). */
export const TOKENS_VARIABLE = 'AUTH_TOKENS_FILE';

/** One accepted bearer token: who it stands for, and the SHA-256 of the token (never the token). */
export interface TokenEntry {
  readonly role: Role;
  readonly name: string;
  readonly sha256: Buffer;
}

/** Most tokens one file may hold: lookup compares with every one of them. */
export const MAX_TOKENS = 10_000;

/**
 * Parses a tokens file: one `<role> <name> <sha256 hex of the token>` per line, `#` comments
 * and blank lines allowed. Throws ConfigError naming AUTH_TOKENS_FILE and the line number;
 * the message never repeats a hash (a hash of a short token is a guessable secret).
 */
export function parseTokensFile(text: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const at = `line ${i + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) throw new ConfigError(TOKENS_VARIABLE, `${at}: expected "<role> <name> <sha256 hex>", got ${parts.length} field(s)`);
    const [role, name, hex] = parts;
    if (!(ROLES as readonly string[]).includes(role)) throw new ConfigError(TOKENS_VARIABLE, `${at}: unknown role ${JSON.stringify(role.slice(0, 32))} (one of ${ROLES.join(', ')})`);
    const nameProblem = agentIdProblem(name);
    if (nameProblem) throw new ConfigError(TOKENS_VARIABLE, `${at}: bad name: ${nameProblem.replace(/^agent_id/, 'the name')}`);
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError(TOKENS_VARIABLE, `${at}: the hash must be 64 hex digits (printf %s "$TOKEN" | sha256sum)`);
    const key = hex.toLowerCase();
    if (seen.has(key)) throw new ConfigError(TOKENS_VARIABLE, `${at}: the same token hash appears on an earlier line (each token names one caller)`);
    seen.add(key);
    if (entries.length >= MAX_TOKENS) throw new ConfigError(TOKENS_VARIABLE, `${at}: more than ${MAX_TOKENS} tokens`);
    entries.push(Object.freeze({ role: role as Role, name, sha256: Buffer.from(key, 'hex') }));
  }
  // An empty file would lock everyone out while looking configured: surely a mistake.
  if (entries.length === 0) throw new ConfigError(TOKENS_VARIABLE, 'holds no tokens (one "<role> <name> <sha256 hex>" per line)');
  return entries;
}

/** Reads and parses the file at `path`; ConfigError (naming AUTH_TOKENS_FILE) when it cannot. */
export function loadTokensFile(path: string): TokenEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(TOKENS_VARIABLE, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseTokensFile(text);
}

/** SHA-256 of a presented token, as the file stores it. */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
