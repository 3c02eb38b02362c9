import { usage } from './context';

/**
 * Parsers of flag values shared by the commands. Each names its flag in the usage error it
 * throws (exit 2), as every nexusctl flag does.
 */

/** A repeatable flag that also takes comma lists (`--type a,b --type c`): commander's argParser. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return [...(previous ?? []), ...items];
}

/** A whole number in [min, max] given to `flag`. */
export function intFlag(flag: string, raw: string | undefined, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw usage(`${flag} must be a whole number in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return n;
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `90s`, `5m`, `1h30m`, `2d` (a bare number is seconds), in ms. */
export function durationFlag(flag: string, raw: string): number {
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw usage(`${flag} must be a duration such as 30s, 5m, 1h30m or 2d, got ${JSON.stringify(raw)}`);
  }
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * UNITS_MS[p[2]], 0));
}

/** Cuts `text` to `max` characters (newlines folded to spaces), with an ellipsis when cut. */
export function cut(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
}
