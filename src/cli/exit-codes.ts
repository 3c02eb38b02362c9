import { status } from '@grpc/grpc-js';

/**
 * nexusctl's exit codes: 0 only when what was asked succeeded; each way of not succeeding has
 * its own code, so a script can tell "the command failed" from "the server is down".
 */
export const EXIT = {
  OK: 0,
  /** The command (or a child of a fan-out) failed, died or was cancelled. */
  COMMAND_FAILED: 1,
  /** Bad flags or arguments (commander's own errors use 1; main maps them here). */
  USAGE: 2,
  /** No such command or dead letter. */
  NOT_FOUND: 3,
  /** The server could not be reached, or did not answer within `--timeout`. */
  UNAVAILABLE: 4,
  /** The server refused the caller (no token, a bad one, or a role that may not do this). */
  DENIED: 5,
  /** The server refused the request itself (a field it names is wrong, a limit is reached). */
  REFUSED: 6,
  /** Anything else (a bug: please report it). */
  INTERNAL: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends nexusctl with `code`; its message goes to stderr as `error: <message>`. */
export class CliError extends Error {
  constructor(message: string, readonly code: ExitCode) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code of a gRPC status. */
export function exitCodeOf(code: status | undefined): ExitCode {
  switch (code) {
    case status.NOT_FOUND:
      return EXIT.NOT_FOUND;
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
      return EXIT.UNAVAILABLE;
    case status.PERMISSION_DENIED:
    case status.UNAUTHENTICATED:
      return EXIT.DENIED;
    case status.INVALID_ARGUMENT:
    case status.FAILED_PRECONDITION:
    case status.RESOURCE_EXHAUSTED:
    case status.OUT_OF_RANGE:
    case status.ALREADY_EXISTS:
      return EXIT.REFUSED;
    default:
      return EXIT.INTERNAL;
  }
}
