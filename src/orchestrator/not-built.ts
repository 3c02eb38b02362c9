import { status, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import type { NexusPulseServiceServer } from '../generated/nexus/prime/pulse';

/** The RPCs of the operator surface (issue 15) whose handler is not built yet. */
type Pending = 'listCommands' | 'listDeadLetters' | 'redriveDeadLetters' | 'purgeDeadLetters' | 'cancelCommands';

const unary = (name: string) => (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<never>): void => {
  callback({ code: status.UNIMPLEMENTED, details: `${name} is not built yet` });
};
/**
 * UNIMPLEMENTED for each RPC of the contract that this replica does not serve yet, so the
 * service stays complete for grpc-js and clients get a clear status instead of a hang.
 */
export const notBuiltYet: Pick<NexusPulseServiceServer, Pending> = {
  listCommands: unary('ListCommands'),
  listDeadLetters: unary('ListDeadLetters'),
  redriveDeadLetters: unary('RedriveDeadLetters'),
  purgeDeadLetters: unary('PurgeDeadLetters'),
  cancelCommands: unary('CancelCommands'),
};
