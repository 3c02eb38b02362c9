import type { Duplex } from 'node:stream';
import type Redis from 'ioredis';

/**
 * Holds a connection's socket writes made during one turn of the event loop and sends them
 * as one writev: an ingress batch's routes, or the delivery runs one batch of results kicks,
 * cost one syscall (on loopback, also the receiver's TCP work) instead of one each. Order
 * and replies are untouched; unlike a pipeline, nothing is copied into one big string.
 */
export class TurnWrites {
  private corked: Duplex | undefined;

  constructor(private readonly redis: Redis) {}

  /** Call before issuing commands; the socket is uncorked once this turn's code has run. */
  hold(): void {
    if (this.corked) return;
    const socket = this.redis.stream as Duplex | undefined;
    if (!socket?.writable) return;
    socket.cork();
    this.corked = socket;
    process.nextTick(() => {
      this.corked = undefined;
      socket.uncork();
    });
  }
}
