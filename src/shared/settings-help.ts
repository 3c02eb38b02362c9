import { groupedSettings, shownDefault, type SettingsTable } from './settings';

/** Terminal width the help text is wrapped to. */
const WIDTH = 80;
/** Indent of a setting's meaning under its name line. */
const MEANING_INDENT = '      ';

/** Markdown to plain text: backticks mark code in the docs but are noise in a terminal. */
function plain(markdown: string): string {
  return markdown.replace(/`([^`]*)`/g, '$1');
}

/** Splits text into lines of at most `width` characters, at spaces (a longer word stays whole). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * `--help` text for a program: usage, how variables and flags relate, then every setting
 * under its group with its flag, default and meaning, and a pointer to the operations guide.
 */
export function settingsHelp(program: string, table: SettingsTable): string {
  const out = [
    `Usage: ${program} [--flag=value ...]`,
    '',
    ...wrap(
      'Every setting is an environment variable or the flag after it (--name=value or --name value); ' +
        `a flag wins over the environment. A bad value stops ${program} at start with exit code 1, naming the variable.`,
      WIDTH,
    ),
  ];
  for (const { group, rows } of groupedSettings(table)) {
    out.push('', `${group}:`);
    for (const { variable, flag, setting } of rows) {
      out.push(`  ${variable}, ${flag} (default: ${plain(shownDefault(setting))})`);
      for (const line of wrap(plain(setting.meaning), WIDTH - MEANING_INDENT.length)) out.push(`${MEANING_INDENT}${line}`);
    }
  }
  out.push('', 'See docs/operations.md for how the settings work together.');
  return out.join('\n');
}
