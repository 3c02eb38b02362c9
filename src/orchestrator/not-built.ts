import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type { NexusPulseServiceServer } from '../generated/nexus/prime/pulse';

/** The RPCs of the operator surface (issue 15) whose handler is not built yet. */
type Pending = 'watchCommand' | 'watchEvents';

const streaming = (name: string) => (call: ServerWritableStream<unknown, unknown>): void => {
  call.emit('error', { code: status.UNIMPLEMENTED, details: `${name} is not built yet` });
};

/**
 * UNIMPLEMENTED for each RPC of the contract that this replica does not serve yet, so the
 * service stays complete for grpc-js and clients get a clear status instead of a hang.
 */
export const notBuiltYet: Pick<NexusPulseServiceServer, Pending> = {
  watchCommand: streaming('WatchCommand'),
  watchEvents: streaming('WatchEvents'),
};
