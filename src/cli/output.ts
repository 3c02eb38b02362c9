import Table from 'cli-table3';
import { createColors } from 'picocolors';
import { stringify as toYaml } from 'yaml';
import type { Format, GlobalOptions } from './options';

/** A table column: its header, its cell, and whether only `-o wide` shows it. */
export interface Column<T> {
  header: string;
  cell: (row: T) => string;
  wide?: boolean;
}

/** Borderless, as kubectl prints: columns separated by three spaces. */
const PLAIN_CHARS = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '   ',
};

/**
 * Where nexusctl writes: data on stdout in the chosen format, diagnostics on stderr. json is
 * exactly one document, jsonl one document per line (lists and streams), yaml one document;
 * table and wide are for people (relative times, colour on a terminal).
 */
export class Output {
  readonly format: Format;
  readonly color: ReturnType<typeof createColors>;

  constructor(opts: Pick<GlobalOptions, 'output' | 'color'>, private readonly out: NodeJS.WritableStream = process.stdout, private readonly err: NodeJS.WritableStream = process.stderr) {
    this.format = opts.output;
    this.color = createColors(opts.color);
  }

  get forPeople(): boolean {
    return this.format === 'table' || this.format === 'wide';
  }

  /**
   * One result: `doc` (plain JSON values) for json/jsonl/yaml, else `human()` prints it. Times
   * become ISO 8601 there (`createdAtUnixMs: 1796…` -> `createdAt: "2026-…Z"`, see isoTimes).
   */
  document(doc: unknown, human: () => void): void {
    if (this.format === 'json') this.write(`${JSON.stringify(isoTimes(doc), null, 2)}\n`);
    else if (this.format === 'jsonl') this.write(`${JSON.stringify(isoTimes(doc))}\n`);
    else if (this.format === 'yaml') this.write(toYaml(isoTimes(doc)));
    else human();
  }

  /** A list: a table for people; json/yaml one document (`doc`), jsonl one line per item. */
  list<T>(doc: unknown, items: readonly T[], itemDoc: (item: T) => unknown, columns: readonly Column<T>[]): void {
    if (this.format === 'jsonl') {
      for (const item of items) this.write(`${JSON.stringify(isoTimes(itemDoc(item)))}\n`);
      return;
    }
    this.document(doc, () => this.table(items, columns));
  }

  /** A table of `rows` (the wide columns only with `-o wide`); nothing but a note on stderr when empty. */
  table<T>(rows: readonly T[], columns: readonly Column<T>[], empty = 'No resources found.'): void {
    if (rows.length === 0) {
      this.note(empty);
      return;
    }
    this.write(`${this.tableText(rows, columns)}\n`);
  }

  tableText<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
    const shown = columns.filter((c) => !c.wide || this.format === 'wide');
    const table = new Table({ head: shown.map((c) => c.header), chars: PLAIN_CHARS, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 } });
    for (const row of rows) table.push(shown.map((c) => c.cell(row)));
    return table.toString().split('\n').map((line) => line.trimEnd()).join('\n');
  }

  /** Data, as is. */
  write(text: string): void {
    this.out.write(text);
  }

  /** A diagnostic line on stderr. */
  note(text: string): void {
    this.err.write(`${text}\n`);
  }
}

/** kubectl-style age of a time (Unix ms) relative to `now`: 45s, 12m, 3h, 5d; '-' when unknown. */
export function age(atMs: number, now = Date.now()): string {
  if (!atMs) return '-';
  const s = Math.max(0, Math.floor((now - atMs) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** A Unix-ms time as ISO 8601 (json output), or null when unknown. */
export function iso(atMs: number | string | undefined): string | null {
  const n = Number(atMs ?? 0);
  return n > 0 ? new Date(n).toISOString() : null;
}

const UNIX_MS = /UnixMs$/;

/**
 * The API's times are Unix ms (`atUnixMs`, `createdAtUnixMs`, ...); machine output carries them
 * as ISO 8601 under the name without the suffix (`at`, `createdAt`), null when unset (0), so a
 * script reads times without knowing the unit. Everything else is kept as is.
 */
export function isoTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(isoTimes);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (UNIX_MS.test(key) && (typeof v === 'number' || typeof v === 'string')) out[key.replace(UNIX_MS, '')] = iso(v);
    else out[key] = isoTimes(v);
  }
  return out;
}
