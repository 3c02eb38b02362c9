import { Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { LifecycleEvent, NexusPulseServiceClient, WatchCommandRequest, WatchCommandResponse, WatchEventsRequest } from '../../src/generated/nexus/prime/pulse';

/** A server stream being read: what arrived so far, and how it ended. */
export interface Watched<T> {
  readonly call: ClientReadableStream<T>;
  readonly messages: T[];
  /** Resolves when the stream ends: undefined for OK, else the error (CANCELLED after cancel()). */
  readonly ended: Promise<ServiceError | undefined>;
  /** Set once the stream has ended. */
  done: boolean;
  /**
   * Resolves when nothing more will arrive: grpc-js reports an error status before the
   * messages still buffered ahead of it have been read, so they may follow the error.
   */
  readonly quiet: Promise<void>;
}

function follow<T>(call: ClientReadableStream<T>, onMessage?: (m: T, all: T[]) => void): Watched<T> {
  const messages: T[] = [];
  const watched = { call, messages, done: false } as Watched<T>;
  (watched as { quiet: Promise<void> }).quiet = new Promise((resolve) => {
    call.once('end', () => resolve());
    call.once('close', () => resolve());
  });
  (watched as { ended: Promise<ServiceError | undefined> }).ended = new Promise((resolve) => {
    call.on('data', (m: T) => {
      messages.push(m);
      onMessage?.(m, messages);
    });
    call.on('error', (err: ServiceError) => {
      watched.done = true;
      resolve(err);
    });
    call.on('end', () => {
      watched.done = true;
      resolve(undefined);
    });
  });
  return watched;
}

/** WatchEvents with the given request fields (60 s deadline). */
export function watchEvents(client: NexusPulseServiceClient, request: Partial<WatchEventsRequest> = {}, onMessage?: (m: LifecycleEvent, all: LifecycleEvent[]) => void): Watched<LifecycleEvent> {
  const full: WatchEventsRequest = { types: [], agentId: '', commandId: '', after: '', ...request };
  return follow(client.watchEvents(full, new Metadata(), { deadline: Date.now() + 60_000 }), onMessage);
}

/** WatchCommand (60 s deadline). */
export function watchCommand(client: NexusPulseServiceClient, commandId: string, after = '', onMessage?: (m: WatchCommandResponse, all: WatchCommandResponse[]) => void): Watched<WatchCommandResponse> {
  const request: WatchCommandRequest = { commandId, after };
  return follow(client.watchCommand(request, new Metadata(), { deadline: Date.now() + 60_000 }), onMessage);
}
