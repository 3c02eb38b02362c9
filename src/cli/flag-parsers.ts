/**
 * A repeatable flag that also takes comma lists (`--type a,b --type c`), as commander's
 * argParser: every value, in order, blanks dropped.
 */
export function collectList(value: string, previous: string[] | undefined): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return [...(previous ?? []), ...items];
}
