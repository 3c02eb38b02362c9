import { EXIT, type ExitCode } from './exit-codes';
import type { Output } from './output';

/**
 * The dry run of a bulk action by filter: its match count on stderr; nothing matched ends
 * it (exit 0), and without `--yes` nothing changes (exit 2). Returns the exit code to stop
 * with, or undefined to go on and act.
 */
export function confirmBulk(out: Output, noun: { one: string; many: string }, verb: string, matched: number, yes: boolean | undefined, truncated = false): ExitCode | undefined {
  out.note(`${matched}${truncated ? '+' : ''} ${matched === 1 ? noun.one : noun.many} match`);
  if (matched === 0) return EXIT.OK;
  if (!yes) {
    out.note(`pass --yes to ${verb} ${matched === 1 ? 'it' : 'them'}`);
    return EXIT.USAGE;
  }
  return undefined;
}
