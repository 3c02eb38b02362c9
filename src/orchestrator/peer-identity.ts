/**
 * The SAN URI form of an agent identity (`spiffe://nexus/agent/<id>`); viewers and operators
 * use `spiffe://nexus/viewer/<name>` and `spiffe://nexus/operator/<name>` (auth/authenticator.ts).
 */
export const AGENT_SPIFFE_PREFIX = 'spiffe://nexus/agent/';
