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

/**
 * A bulk action: by ids it acts at once; by filter it asks for a dry run first and goes on only
 * as confirmBulk allows. `print` shows an answer (`dry`: the dry run's, when it ends the action
 * because nothing matched). `plus`: say "N+ match" when the dry run's count was cut short.
 */
export async function runBulk<T extends { matched: number | string; truncated: boolean }>(
  out: Output,
  action: { noun: { one: string; many: string }; verb: string; byFilter: boolean; yes: boolean | undefined; plus?: boolean },
  call: (dryRun: boolean) => Promise<T>,
  print: (res: T, dry: boolean) => void,
): Promise<ExitCode> {
  if (action.byFilter) {
    const dry = await call(true);
    const stop = confirmBulk(out, action.noun, action.verb, Number(dry.matched), action.yes, action.plus === true && dry.truncated);
    if (stop !== undefined) {
      if (stop === EXIT.OK) print(dry, true);
      return stop;
    }
  }
  print(await call(false), false);
  return EXIT.OK;
}
