import type { IncomingMessage, ServerResponse } from 'node:http';
import { status } from '@grpc/grpc-js';

/** Largest JSON body a POST may carry (the API's requests are small). */
export const MAX_BODY_BYTES = 64 * 1024;

/** An error the API answers with: an HTTP status and `{ error, code }` (a gRPC status name). */
export class ApiError extends Error {
  constructor(readonly httpStatus: number, message: string, readonly code: string) {
    super(message);
  }
}

/** A 400 for bad input: `code` INVALID_ARGUMENT, the message names the field. */
export const invalid = (message: string): ApiError => new ApiError(400, message, 'INVALID_ARGUMENT');

const HTTP_OF: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.FAILED_PRECONDITION]: 400,
  [status.OUT_OF_RANGE]: 400,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.RESOURCE_EXHAUSTED]: 503,
  [status.UNAVAILABLE]: 503,
  [status.DEADLINE_EXCEEDED]: 503,
  [status.CANCELLED]: 503,
};

/** A gRPC error (from the loopback client) as the ApiError the browser sees. */
export function fromGrpc(err: { code?: number; details?: string; message?: string }): ApiError {
  const code = typeof err.code === 'number' ? err.code : status.UNKNOWN;
  const message = (err.details || err.message || 'unknown error').replace(/\.?\s*Resolution note:\s*$/, '');
  return new ApiError(HTTP_OF[code as status] ?? 500, message, status[code] ?? 'UNKNOWN');
}

/** Sends `body` as JSON (never cached: it is live data). */
export function sendJson(res: ServerResponse, httpStatus: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(httpStatus, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Sends an error as `{ error, code }`. */
export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.httpStatus, { error: err.message, code: err.code });
}

/** Reads a JSON object body of at most MAX_BODY_BYTES; ApiError 400/413 otherwise. */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`, 'INVALID_ARGUMENT');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('the body must be a JSON object');
  return value as Record<string, unknown>;
}
