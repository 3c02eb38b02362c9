import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** The browser's session cookie: the bearer token itself, out of reach of page scripts. */
export const SESSION_COOKIE = 'nexus_session';
/** The double-submit CSRF cookie: readable by the page, which echoes it in X-CSRF-Token. */
export const CSRF_COOKIE = 'nexus_csrf';

/** One cookie of the request, or undefined (at most 4 KiB per value is considered). */
export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (value.length === 0 || value.length > 4096) return undefined;
    try {
      return decodeURIComponent(value);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Whether the browser reached us over TLS (directly, or through a proxy that says so). */
function overTls(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

/** Adds a Set-Cookie (SameSite=Strict, Path=/, Secure over TLS); maxAgeSec 0 deletes it. */
export function setCookie(req: IncomingMessage, res: ServerResponse, name: string, value: string, opts: { httpOnly: boolean; maxAgeSec?: number }): void {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'SameSite=Strict'];
  if (opts.httpOnly) parts.push('HttpOnly');
  if (overTls(req)) parts.push('Secure');
  if (opts.maxAgeSec !== undefined) parts.push(`Max-Age=${opts.maxAgeSec}`);
  res.appendHeader('set-cookie', parts.join('; '));
}
