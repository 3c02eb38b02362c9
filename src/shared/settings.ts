import { toFlag } from './config-reader';

/** A default as the environment would spell it: a number, a string, or a comma-separated list. */
export type SettingValue = number | string | readonly string[];

/**
 * One setting of a program: an environment variable, also accepted as the matching
 * `--kebab-case` flag. The loaders read their defaults from here, and `--help` and
 * docs/operations.md are generated from here, so the three cannot disagree.
 */
export interface Setting<T extends SettingValue | undefined = SettingValue | undefined> {
  /** Heading the setting is listed under in `--help` and the docs. */
  readonly group: string;
  /** Value used when the variable is unset or empty; undefined when it is computed at start. */
  readonly default: T;
  /** How a computed default is derived (Markdown), e.g. "2 x `STALENESS_THRESHOLD_SEC`". */
  readonly computed?: string;
  /** What the setting does (Markdown). */
  readonly meaning: string;
}

/** A program's settings by variable name, in the order they are listed. */
export type SettingsTable = Readonly<Record<string, Setting>>;

/** A setting whose default is a plain value ('' means "unset": the feature is off or empty). */
export function setting<T extends SettingValue>(group: string, defaultValue: T, meaning: string): Setting<T> {
  return Object.freeze({ group, default: defaultValue, meaning });
}

/** A setting whose default is derived at start (from the host, or from other settings). */
export function computed(group: string, description: string, meaning: string): Setting<undefined> {
  return Object.freeze({ group, default: undefined, computed: description, meaning });
}

/** The variable names of a table, in order (the flags `mergeFlags` accepts). */
export function variablesOf<T extends SettingsTable>(table: T): readonly (keyof T & string)[] {
  return Object.freeze(Object.keys(table) as (keyof T & string)[]);
}

/** The default as shown to people (Markdown): the value, the derivation, or `none`. */
export function shownDefault(s: Setting): string {
  if (s.default === undefined) return s.computed ?? 'none';
  const text = Array.isArray(s.default) ? s.default.join(',') : String(s.default);
  return text === '' ? 'none' : `\`${text}\``;
}

/** One row of a rendered table: a setting with its name and flag. */
export interface SettingRow {
  readonly variable: string;
  readonly flag: string;
  readonly setting: Setting;
}

/** The settings grouped under their headings, groups in order of first appearance. */
export function groupedSettings(table: SettingsTable): { group: string; rows: SettingRow[] }[] {
  const groups = new Map<string, SettingRow[]>();
  for (const [variable, s] of Object.entries(table)) {
    const rows = groups.get(s.group) ?? [];
    rows.push({ variable, flag: toFlag(variable), setting: s });
    groups.set(s.group, rows);
  }
  return [...groups].map(([group, rows]) => ({ group, rows }));
}
