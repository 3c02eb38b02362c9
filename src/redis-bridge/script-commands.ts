import type { Result } from 'ioredis';

type Arg = string | number;

/**
 * The Lua commands defined by script-loader (one per file in ./scripts). Their replies are
 * typed `unknown` on purpose: ./script-replies decodes each into a typed object.
 */
declare module 'ioredis' {
  interface RedisCommander<Context> {
    connectAgent(...args: Arg[]): Result<unknown, Context>;
    recordHeartbeat(...args: Arg[]): Result<unknown, Context>;
    disconnectAgent(...args: Arg[]): Result<unknown, Context>;
    sweepAgents(...args: Arg[]): Result<unknown, Context>;
    beatReplica(...args: Arg[]): Result<unknown, Context>;
    reapReplicas(...args: Arg[]): Result<unknown, Context>;
    holdAgents(...args: Arg[]): Result<unknown, Context>;
    releaseHold(...args: Arg[]): Result<unknown, Context>;
    emitEvent(...args: Arg[]): Result<unknown, Context>;
    routeCommands(...args: Arg[]): Result<unknown, Context>;
    rejectEntry(...args: Arg[]): Result<unknown, Context>;
    cancelCommand(...args: Arg[]): Result<unknown, Context>;
    deliverCommands(...args: Arg[]): Result<unknown, Context>;
    ackCommand(...args: Arg[]): Result<unknown, Context>;
    completeCommands(...args: Arg[]): Result<unknown, Context>;
    expireCommands(...args: Arg[]): Result<unknown, Context>;
    retireConsumer(...args: Arg[]): Result<unknown, Context>;
    scanDeadLetters(...args: Arg[]): Result<unknown, Context>;
    recordProgress(...args: Arg[]): Result<unknown, Context>;
    planFanout(...args: Arg[]): Result<unknown, Context>;
    launchChildren(...args: Arg[]): Result<unknown, Context>;
    placeWaiting(...args: Arg[]): Result<unknown, Context>;
  }
}
