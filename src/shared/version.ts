import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Reads the version from the nearest package.json above this file (src/ or dist/src/). */
function readVersion(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'nexus-prime' && pkg.version) return pkg.version;
    }
  }
  return '0.0.0';
}

/** The version reported in hello messages and the replica registry. */
export const NEXUS_VERSION = readVersion();
