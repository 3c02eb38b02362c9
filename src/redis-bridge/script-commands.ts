import type { Result } from 'ioredis';

type Arg = string | number;

/** Types of the Lua commands defined by script-loader (one per file in ./scripts). */
declare module 'ioredis' {
  interface RedisCommander<Context> {
    connectAgent(...args: Arg[]): Result<[number, string, string, string, number], Context>;
    recordHeartbeat(...args: Arg[]): Result<number, Context>;
    disconnectAgent(...args: Arg[]): Result<number, Context>;
    sweepAgents(...args: Arg[]): Result<[number, number, number], Context>;
    beatReplica(...args: Arg[]): Result<number, Context>;
    reapReplicas(...args: Arg[]): Result<string[], Context>;
    emitEvent(...args: Arg[]): Result<string, Context>;
    routeCommands(...args: Arg[]): Result<string[], Context>;
    rejectEntry(...args: Arg[]): Result<number, Context>;
    cancelCommand(...args: Arg[]): Result<[string, string], Context>;
    deliverCommands(...args: Arg[]): Result<(string | number)[], Context>;
    ackCommand(...args: Arg[]): Result<number, Context>;
    completeCommands(...args: Arg[]): Result<(string | number)[], Context>;
    expireCommands(...args: Arg[]): Result<number, Context>;
    retireConsumer(...args: Arg[]): Result<number, Context>;
  }
}
