/** Thrown by a handler for a failure that retrying cannot fix (bad payload, unsupported). */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Thrown by a handler that stopped because its command was cancelled. */
export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
