import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './http-io';
import { cookieOf, CSRF_COOKIE, setCookie } from './cookies';

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,128}$/;

/** The request's CSRF token; a new one (set as the `nexus_csrf` cookie) when it has none. */
export function ensureCsrf(req: IncomingMessage, res: ServerResponse): string {
  const current = cookieOf(req, CSRF_COOKIE);
  if (current && TOKEN_PATTERN.test(current)) return current;
  const token = randomBytes(32).toString('base64url');
  setCookie(req, res, CSRF_COOKIE, token, { httpOnly: false });
  return token;
}

const forbidden = (message: string): ApiError => new ApiError(403, message, 'PERMISSION_DENIED');

/**
 * Every POST must come from a page of this console: the X-CSRF-Token header equals the
 * `nexus_csrf` cookie (double submit), the request is same-origin (Origin matches Host, or
 * Sec-Fetch-Site says so), and the body is JSON (which a plain HTML form cannot send).
 */
export function checkPost(req: IncomingMessage): void {
  const cookie = cookieOf(req, CSRF_COOKIE);
  const header = req.headers['x-csrf-token'];
  if (!cookie || typeof header !== 'string' || !sameToken(cookie, header)) {
    throw forbidden('CSRF check failed: send the nexus_csrf cookie\'s value in X-CSRF-Token (GET /api/session sets it)');
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (!host || host !== req.headers.host) throw forbidden(`CSRF check failed: Origin ${JSON.stringify(origin.slice(0, 100))} is not this console`);
  } else if (req.headers['sec-fetch-site'] !== 'same-origin') {
    throw forbidden('CSRF check failed: a POST needs a same-origin Origin header');
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new ApiError(415, 'Content-Type must be application/json', 'INVALID_ARGUMENT');
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
