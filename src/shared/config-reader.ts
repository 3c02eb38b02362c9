import { ConfigError } from './config-error';

/** Raw configuration values by variable name (environment merged with CLI flags). */
export type RawConfig = Readonly<Record<string, string | undefined>>;

/**
 * Merges the environment with command-line flags: `--grpc-port=50051` or `--grpc-port 50051`
 * sets `GRPC_PORT`, and flags win over the environment. Only the names in `known` are
 * accepted as flags, so a typo stops the process instead of being ignored.
 */
export function mergeFlags(
  env: NodeJS.ProcessEnv,
  argv: readonly string[],
  known: readonly string[],
): RawConfig {
  const merged: Record<string, string | undefined> = {};
  for (const name of known) merged[name] = env[name];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(arg, 'unexpected argument (flags look like --name=value)');
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq === -1 ? undefined : eq);
    const name = flag.toUpperCase().replace(/-/g, '_');
    if (!known.includes(name)) throw new ConfigError(`--${flag}`, `unknown flag; known: ${known.map(toFlag).join(' ')}`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new ConfigError(`--${flag}`, 'missing value');
    merged[name] = value;
  }
  return merged;
}

/** `GRPC_PORT` -> `--grpc-port`. */
export function toFlag(name: string): string {
  return `--${name.toLowerCase().replace(/_/g, '-')}`;
}

/**
 * Typed reads of raw configuration. Every reader returns the default when the variable is
 * unset or empty and throws a ConfigError naming the variable when the value is invalid.
 */
export class ConfigReader {
  constructor(private readonly raw: RawConfig) {}

  private value(name: string): string | undefined {
    const v = this.raw[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  string(name: string, fallback: string, options: { maxLength?: number; pattern?: RegExp } = {}): string {
    const v = this.value(name) ?? fallback;
    if (options.maxLength !== undefined && v.length > options.maxLength) {
      throw new ConfigError(name, `must be at most ${options.maxLength} characters`);
    }
    if (options.pattern && !options.pattern.test(v)) {
      throw new ConfigError(name, `${JSON.stringify(v)} does not match ${options.pattern}`);
    }
    return v;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.value(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `${JSON.stringify(v)} is not an integer`);
    const n = Number(v);
    if (n < min || n > max) throw new ConfigError(name, `${n} is outside ${min}..${max}`);
    return n;
  }

  /** A duration given in (possibly fractional) seconds, returned in milliseconds. */
  secondsAsMs(name: string, fallbackSec: number, minSec: number, maxSec: number): number {
    const v = this.value(name);
    if (v === undefined) return Math.round(fallbackSec * 1000);
    if (!/^\d+(\.\d+)?$/.test(v)) throw new ConfigError(name, `${JSON.stringify(v)} is not a number of seconds`);
    const n = Number(v);
    if (n < minSec || n > maxSec) throw new ConfigError(name, `${n} is outside ${minSec}..${maxSec} seconds`);
    return Math.round(n * 1000);
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.value(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    throw new ConfigError(name, `${JSON.stringify(v)} is not a boolean (true/false)`);
  }

  list(name: string, fallback: readonly string[]): string[] {
    const v = this.value(name);
    if (v === undefined) return [...fallback];
    return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }

  /** `k=v,k2=v2` */
  labels(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const pair of this.list(name, [])) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new ConfigError(name, `${JSON.stringify(pair)} is not key=value`);
      out[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    return out;
  }

  url(name: string, fallback: string, protocols: readonly string[]): string {
    const v = this.value(name) ?? fallback;
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      throw new ConfigError(name, 'is not a valid URL');
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(name, `protocol must be one of ${protocols.join(', ')}`);
    }
    return v;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const v = this.value(name) ?? fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      throw new ConfigError(name, `${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
    }
    return v as T;
  }
}
