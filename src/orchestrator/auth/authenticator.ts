import { timingSafeEqual } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { status, type Metadata } from '@grpc/grpc-js';
import { AGENT_SPIFFE_PREFIX } from '../peer-identity';
import type { Caller, Role } from './caller';
import { tokenHash, type TokenEntry } from './tokens-file';

/** How a replica tells callers apart (docs/roles.md). */
export type AuthMode = 'mtls' | 'tokens' | 'open';

/** What the authenticator established: a caller, or the status to refuse with. */
export type Authentication =
  | { readonly ok: true; readonly caller: Caller }
  | { readonly ok: false; readonly code: status; readonly details: string };

/** A caller whose certificate names a role we do not know (it may call nothing). */
export interface ForeignCaller {
  readonly role: string;
  readonly name: string;
}

const SPIFFE_NEXUS = 'spiffe://nexus/';
const ROLE_PREFIXES: readonly [Role, string][] = [
  ['agent', AGENT_SPIFFE_PREFIX],
  ['viewer', `${SPIFFE_NEXUS}viewer/`],
  ['operator', `${SPIFFE_NEXUS}operator/`],
];

/** The mode a configuration selects: the client certificate decides whenever mTLS is on. */
export function authMode(config: { tls: { ca: unknown } | undefined; authTokens: readonly TokenEntry[] | undefined }): AuthMode {
  if (config.tls?.ca !== undefined) return 'mtls';
  return config.authTokens ? 'tokens' : 'open';
}

/**
 * The caller a client certificate stands for: its first `spiffe://nexus/<role>/<name>` SAN URI
 * (`agent`, `viewer`, `operator`; another `spiffe://nexus/<kind>/...` is a role we do not know,
 * which may call nothing), else its subject CN as an agent of that name (as before roles).
 */
export function certificateCaller(cert: PeerCertificate | undefined): Caller | ForeignCaller | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const value = entry.trim();
    if (!value.startsWith(`URI:${SPIFFE_NEXUS}`)) continue;
    const uri = value.slice('URI:'.length);
    for (const [role, prefix] of ROLE_PREFIXES) if (uri.startsWith(prefix) && uri.length > prefix.length) return { role, name: uri.slice(prefix.length) };
    // Another kind (or a known one without a name): a role nobody granted anything to.
    const [kind = '', ...rest] = uri.slice(SPIFFE_NEXUS.length).split('/');
    const known = ROLE_PREFIXES.some(([role]) => role === kind);
    return { role: kind && !known ? kind : 'unknown', name: rest.join('/') };
  }
  const cn = cert.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return name ? { role: 'agent', name } : undefined;
}

/** The token of one `authorization` value (`Bearer <token>`), or undefined. Also for HTTP headers. */
export function parseBearer(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return /^Bearer +(\S+) *$/i.exec(value)?.[1];
}

/** The token in `authorization: Bearer <token>` gRPC metadata (exactly one value), or undefined. */
export function bearerToken(metadata: Metadata): string | undefined {
  const values = metadata.get('authorization');
  if (values.length !== 1 || typeof values[0] !== 'string') return undefined;
  return parseBearer(values[0]);
}

/**
 * Turns a call's credentials into a Caller: the client certificate under mTLS, the bearer
 * token under AUTH_TOKENS_FILE, ANONYMOUS-like open access otherwise. Never logs or returns a
 * token or its hash.
 */
export class Authenticator {
  constructor(
    readonly mode: AuthMode,
    private readonly tokens: readonly TokenEntry[] = [],
  ) {}

  /** Who makes a call with this certificate and metadata (the role check is the guard's). */
  authenticate(cert: PeerCertificate | undefined, metadata: Metadata): Authentication | { ok: true; caller: ForeignCaller } {
    return this.authenticateToken(cert, bearerToken(metadata));
  }

  /**
   * The same for a bearer token already taken out of its carrier (an HTTP `authorization`
   * header through parseBearer, e.g. for the web console): the same roles and tokens.
   */
  authenticateToken(cert: PeerCertificate | undefined, token: string | undefined): Authentication | { ok: true; caller: ForeignCaller } {
    if (this.mode === 'open') return { ok: true, caller: { role: 'anonymous', name: '' } };
    if (this.mode === 'mtls') {
      // The handshake already required a certificate from TLS_CA; this reads who it names.
      // A certificate that names nobody (no nexus SAN URI, no CN) is a role nobody granted
      // anything to: PERMISSION_DENIED like any other foreign role.
      return { ok: true, caller: certificateCaller(cert) ?? { role: 'unknown', name: '' } };
    }
    if (token === undefined) return { ok: false, code: status.UNAUTHENTICATED, details: 'missing "authorization: Bearer <token>" metadata' };
    const entry = this.lookup(tokenHash(token));
    if (!entry) return { ok: false, code: status.UNAUTHENTICATED, details: 'unknown bearer token' };
    return { ok: true, caller: { role: entry.role, name: entry.name } };
  }

  /** Compares with every entry in constant time each, so timing tells nothing about which matched. */
  private lookup(hash: Buffer): TokenEntry | undefined {
    let found: TokenEntry | undefined;
    for (const entry of this.tokens) if (timingSafeEqual(entry.sha256, hash) && !found) found = entry;
    return found;
  }
}
