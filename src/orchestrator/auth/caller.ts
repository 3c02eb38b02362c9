/** What a caller may do: agents only pulse, viewers read, operators act (docs/roles.md). */
export type Role = 'agent' | 'viewer' | 'operator';

/**
 * Who is calling, as the auth layer established it (client certificate or bearer token).
 * `anonymous` when the replica runs open (neither mTLS nor AUTH_TOKENS_FILE).
 */
export interface Caller {
  readonly role: Role | 'anonymous';
  readonly name: string;
}

export const ANONYMOUS: Caller = Object.freeze({ role: 'anonymous', name: '' });

/** Callers by call object: set once by the auth layer, read by handlers; gone with the call. */
const callers = new WeakMap<object, Caller>();

/** Records who makes `call` (the auth layer does, before the handler runs). */
export function setCaller(call: object, caller: Caller): void {
  callers.set(call, caller);
}

/** Who makes `call`; ANONYMOUS when nobody was established. */
export function callerOf(call: object): Caller {
  return callers.get(call) ?? ANONYMOUS;
}

/**
 * How a change records who made it (the ingress field `requested_by`, timeline steps,
 * events): `<role>/<name>`, or '' for an anonymous caller.
 */
export function requestedBy(caller: Caller): string {
  return caller.role === 'anonymous' ? '' : `${caller.role}/${caller.name}`;
}
