import logUpdate from 'log-update';

/**
 * Where a live view draws: permanent lines (steps, log lines, child outcomes) and, on a
 * terminal, one region (progress bar, per-agent rows) redrawn in place below them. Piped, the
 * region is never drawn: the caller prints plain lines instead.
 */
export interface Display {
  /** True when the region is redrawn in place (a terminal). */
  readonly live: boolean;
  /** A permanent line (above the region on a terminal). */
  line(text: string): void;
  /** Replaces the region (a terminal only; ignored when piped). */
  region(text: string): void;
  /** Leaves the last region on screen and stops redrawing. */
  done(): void;
}

/** A display on `stream`: live (log-update) when `live`, plain lines otherwise. */
export function createDisplay(stream: NodeJS.WritableStream, live: boolean): Display {
  return live ? new LiveDisplay(stream) : new PlainDisplay(stream);
}

class PlainDisplay implements Display {
  readonly live = false;
  constructor(private readonly stream: NodeJS.WritableStream) {}
  line(text: string): void {
    this.stream.write(`${text}\n`);
  }
  region(): void {}
  done(): void {}
}

class LiveDisplay implements Display {
  readonly live = true;
  private readonly update: ReturnType<typeof logUpdate.create>;
  private current = '';
  private finished = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    this.update = logUpdate.create(stream as NodeJS.WriteStream, { showCursor: true });
  }

  line(text: string): void {
    if (this.finished) {
      this.stream.write(`${text}\n`);
      return;
    }
    if (this.current) this.update.clear();
    this.stream.write(`${text}\n`);
    if (this.current) this.update(this.current);
  }

  region(text: string): void {
    if (this.finished || text === this.current) return;
    this.current = text;
    if (text) this.update(text);
    else this.update.clear();
  }

  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.current) this.update.done();
  }
}
