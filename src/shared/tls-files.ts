import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error';

/** Reads a PEM file named by a config variable; a missing or unreadable file names the variable. */
export function readPem(variable: string, path: string): Buffer {
  try {
    const pem = readFileSync(path);
    if (!pem.includes('-----BEGIN')) throw new Error('not a PEM file');
    return pem;
  } catch (err) {
    throw new ConfigError(variable, `cannot read ${path}: ${(err as Error).message}`);
  }
}
