import type { IncomingMessage, ServerResponse } from 'node:http';
import { Authenticator } from '../orchestrator/auth/authenticator';
import { ApiError, invalid, readJsonBody, sendJson } from './http-io';
import { cookieOf, SESSION_COOKIE, setCookie } from './cookies';
import { ensureCsrf } from './csrf';
import type { LoopbackClient } from './loopback-client';

/** How the browser is told apart: `open` (no AUTH_TOKENS_FILE: everyone operates) or `tokens`. */
export type ConsoleMode = 'open' | 'tokens';

/** What GET /api/session answers. */
export interface SessionView {
  readonly mode: ConsoleMode;
  readonly role: 'viewer' | 'operator' | null;
  readonly name: string;
  readonly csrf: string;
}

const SUMMARY = { state: 0, replicaId: '', agentType: '', agentIdPrefix: '', pageSize: 0, pageToken: '', summaryOnly: true, selector: '' };

/**
 * Browser sessions: in token mode the HttpOnly `nexus_session` cookie holds the bearer token
 * (checked at login by a call with it, then by the API on every call); in open mode there is
 * nothing to log in to. Tokens are never logged.
 */
export class ConsoleSessions {
  constructor(
    readonly mode: ConsoleMode,
    private readonly auth: Authenticator,
    private readonly api: LoopbackClient,
  ) {}

  /** The token to call the API with; 401 in token mode without a session cookie. */
  tokenFor(req: IncomingMessage): string | undefined {
    if (this.mode === 'open') return undefined;
    const token = cookieOf(req, SESSION_COOKIE);
    if (!token) throw new ApiError(401, 'not logged in: POST /api/login with a viewer or operator token', 'UNAUTHENTICATED');
    return token;
  }

  /** Checks here (no API call) that the session is a viewer's or an operator's; 401 otherwise. */
  requireRole(req: IncomingMessage): void {
    const token = this.tokenFor(req);
    if (token !== undefined && this.describe(token, '').role === null) throw new ApiError(401, 'the session token is no longer valid: log in again', 'UNAUTHENTICATED');
  }

  /** GET /api/session (sets the CSRF cookie on first use). */
  view(req: IncomingMessage, res: ServerResponse): void {
    sendJson(res, 200, this.describe(this.mode === 'open' ? undefined : cookieOf(req, SESSION_COOKIE), ensureCsrf(req, res)));
  }

  /** POST /api/login `{ "token": "..." }`: checked with a summary status call made with it. */
  async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonBody(req);
    const csrf = ensureCsrf(req, res);
    if (this.mode === 'open') return sendJson(res, 200, this.describe(undefined, csrf));
    const token = body.token;
    if (typeof token !== 'string' || !/^\S{1,4096}$/.test(token)) throw invalid('token: a non-empty string without spaces is required');
    const who = this.auth.authenticateToken(undefined, token);
    if (!who.ok) throw new ApiError(401, 'unknown token', 'UNAUTHENTICATED');
    if (who.caller.role !== 'viewer' && who.caller.role !== 'operator') throw new ApiError(403, `a ${who.caller.role} token cannot use the console (viewer or operator)`, 'PERMISSION_DENIED');
    await this.api.call('getSystemStatus', SUMMARY, token);
    setCookie(req, res, SESSION_COOKIE, token, { httpOnly: true });
    sendJson(res, 200, this.describe(token, csrf));
  }

  /** POST /api/logout: forgets the session cookie. */
  logout(req: IncomingMessage, res: ServerResponse): void {
    if (this.mode === 'tokens') setCookie(req, res, SESSION_COOKIE, '', { httpOnly: true, maxAgeSec: 0 });
    sendJson(res, 200, this.describe(undefined, ensureCsrf(req, res)));
  }

  private describe(token: string | undefined, csrf: string): SessionView {
    if (this.mode === 'open') return { mode: 'open', role: 'operator', name: '', csrf };
    const who = token ? this.auth.authenticateToken(undefined, token) : undefined;
    const role = who?.ok && (who.caller.role === 'viewer' || who.caller.role === 'operator') ? who.caller.role : null;
    return { mode: 'tokens', role, name: role && who?.ok ? who.caller.name : '', csrf };
  }
}
