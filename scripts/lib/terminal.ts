import { closeSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';

/**
 * Output and exit for a process whose terminal can go away at any moment: a closed window
 * sends SIGHUP, and from then on every write fails (EIO on a terminal, EPIPE on a pipe). Call
 * guardOutput() once at startup; say() and exit() then never throw or crash on a dead terminal.
 */
export function guardOutput(): void {
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
}

/** One line to stdout, if anyone can still read it. */
export function say(text: string): void {
  try {
    process.stdout.write(`${text}\n`);
  } catch {
    // no terminal any more
  }
}

const startedOnTerminal = [0, 1, 2].filter((fd) => isatty(fd));

/**
 * process.exit(code), minus a crash: at exit Node restores the settings of each stdio terminal
 * it started with, and aborts (SIGABRT, a core dump) when that terminal is gone
 * (nodejs/node#51519). Node skips a descriptor that no longer refers to the file it started
 * with, so a dead terminal's descriptors are pointed at /dev/null first.
 */
export function exit(code: number): never {
  for (const fd of startedOnTerminal) {
    if (isatty(fd)) continue; // still a working terminal
    try {
      closeSync(fd);
      openSync('/dev/null', 'r+'); // takes the lowest free descriptor: the one just closed
    } catch {
      // nothing better to do on the way out
    }
  }
  return process.exit(code);
}
