import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CancelCommandsRequest, CancelCommandsResponse, GetCommandResponse, GetSystemStatusResponse, LifecycleEvent, ListCommandsResponse,
  ListDeadLettersResponse, PurgeDeadLettersRequest, PurgeDeadLettersResponse, RedriveDeadLettersRequest, RedriveDeadLettersResponse,
  SubmitCommandRequest, SubmitCommandResponse, WatchCommandResponse,
} from '../generated/nexus/prime/pulse';
import { checkPost } from './csrf';
import { ApiError, invalid, readJsonBody, sendJson } from './http-io';
import type { LoopbackClient } from './loopback-client';
import { commandFilterOf, deadLetterFilterOf, Query } from './query-params';
import type { ConsoleSessions } from './session';
import type { SseStreams } from './sse';
import type { ThroughputSampler } from './throughput';

/** What the API routes use. */
export interface ApiDeps {
  readonly api: LoopbackClient;
  readonly sessions: ConsoleSessions;
  readonly streams: SseStreams;
  readonly throughput: ThroughputSampler;
}

/** One request as a route sees it. */
interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** The path's captured segment (a command id), decoded. */
  readonly id: string;
  /** The browser's token for the API (undefined in open mode). */
  token(): string | undefined;
}

type Route = readonly [method: 'GET' | 'POST', path: RegExp, handle: (d: ApiDeps, c: Ctx) => Promise<void> | void];

const AGENTS_PAGE = 200;
const q = (c: Ctx, ...allowed: string[]): Query => new Query(c.url.searchParams, allowed);
const lastEventId = (c: Ctx): string => {
  const value = c.req.headers['last-event-id'];
  if (typeof value !== 'string') return '';
  if (!/^[\w:.-]{1,200}$/.test(value)) throw invalid('Last-Event-ID: not an id this API sent');
  return value;
};
const body = async <T>(c: Ctx, fromJSON: (o: unknown) => T): Promise<T> => fromJSON(await readJsonBody(c.req));

const ROUTES: readonly Route[] = [
  ['GET', /^\/api\/session$/, (d, c) => d.sessions.view(c.req, c.res)],
  ['POST', /^\/api\/login$/, (d, c) => d.sessions.login(c.req, c.res)],
  ['POST', /^\/api\/logout$/, (d, c) => d.sessions.logout(c.req, c.res)],
  ['GET', /^\/api\/status$/, async (d, c) => {
    q(c);
    const res = await d.api.call('getSystemStatus', { state: 0, replicaId: '', agentType: '', agentIdPrefix: '', pageSize: 0, pageToken: '', summaryOnly: true, selector: '' }, c.token());
    sendJson(c.res, 200, GetSystemStatusResponse.toJSON(res));
  }],
  ['GET', /^\/api\/agents$/, async (d, c) => {
    const p = q(c, 'state', 'type', 'replica', 'selector', 'page_token');
    const request = { state: p.agentState('state'), replicaId: p.text('replica'), agentType: p.text('type'), agentIdPrefix: '', pageSize: AGENTS_PAGE, pageToken: p.text('page_token'), summaryOnly: false, selector: p.text('selector') };
    sendJson(c.res, 200, GetSystemStatusResponse.toJSON(await d.api.call('getSystemStatus', request, c.token())));
  }],
  ['GET', /^\/api\/commands$/, async (d, c) => {
    const p = q(c, 'states', 'target', 'type', 'correlation', 'parent', 'after', 'before', 'page_size', 'page_token');
    const request = { filter: commandFilterOf(p), pageSize: p.int('page_size', 1, 1000), pageToken: p.text('page_token') };
    sendJson(c.res, 200, ListCommandsResponse.toJSON(await d.api.call('listCommands', request, c.token())));
  }],
  ['POST', /^\/api\/commands$/, async (d, c) => {
    const request = await body(c, SubmitCommandRequest.fromJSON);
    sendJson(c.res, 200, SubmitCommandResponse.toJSON(await d.api.call('submitCommand', request, c.token())));
  }],
  ['POST', /^\/api\/commands\/cancel$/, async (d, c) => {
    const request = await body(c, CancelCommandsRequest.fromJSON);
    sendJson(c.res, 200, CancelCommandsResponse.toJSON(await d.api.call('cancelCommands', request, c.token())));
  }],
  ['GET', /^\/api\/commands\/(.+)\/stream$/, (d, c) => {
    q(c);
    const call = d.api.stream('watchCommand', { commandId: c.id, after: lastEventId(c) }, c.token());
    d.streams.pipe(c.req, c.res, call, (m) => {
      const json = WatchCommandResponse.toJSON(m as WatchCommandResponse) as Record<string, unknown>;
      const kind = (m as WatchCommandResponse).kind?.$case ?? 'unknown';
      return { id: (m as WatchCommandResponse).position, event: kind, data: json[kind] ?? {} };
    }, 'end');
  }],
  ['GET', /^\/api\/commands\/(.+)$/, async (d, c) => {
    const p = q(c, 'children_page_token');
    const request = { commandId: c.id, childrenPageSize: 0, childrenPageToken: p.text('children_page_token') };
    sendJson(c.res, 200, GetCommandResponse.toJSON(await d.api.call('getCommand', request, c.token())));
  }],
  ['GET', /^\/api\/dlq$/, async (d, c) => {
    const p = q(c, 'reasons', 'target', 'type', 'page_token');
    const request = { filter: deadLetterFilterOf(p), pageSize: 0, pageToken: p.text('page_token') };
    sendJson(c.res, 200, ListDeadLettersResponse.toJSON(await d.api.call('listDeadLetters', request, c.token())));
  }],
  ['POST', /^\/api\/dlq\/redrive$/, async (d, c) => {
    const request = await body(c, RedriveDeadLettersRequest.fromJSON);
    sendJson(c.res, 200, RedriveDeadLettersResponse.toJSON(await d.api.call('redriveDeadLetters', request, c.token())));
  }],
  ['POST', /^\/api\/dlq\/purge$/, async (d, c) => {
    const request = await body(c, PurgeDeadLettersRequest.fromJSON);
    sendJson(c.res, 200, PurgeDeadLettersResponse.toJSON(await d.api.call('purgeDeadLetters', request, c.token())));
  }],
  ['GET', /^\/api\/throughput$/, (d, c) => {
    q(c);
    d.sessions.requireRole(c.req);
    sendJson(c.res, 200, { samples: d.throughput.samples() });
  }],
  ['GET', /^\/api\/events\/stream$/, (d, c) => {
    const p = q(c, 'types', 'agent', 'command');
    const call = d.api.stream('watchEvents', { types: p.list('types'), agentId: p.text('agent'), commandId: p.text('command'), after: lastEventId(c) }, c.token());
    d.streams.pipe(c.req, c.res, call, (m) => ({ id: (m as LifecycleEvent).id, event: 'lifecycle', data: LifecycleEvent.toJSON(m as LifecycleEvent) }));
  }],
];

/**
 * Answers one request under /api: finds its route (404/405 otherwise), checks CSRF on every
 * POST, and runs it with the browser's token. Errors (ApiError) are the caller's to send.
 */
export async function handleApi(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  let pathMatched = false;
  for (const [m, pattern, handle] of ROUTES) {
    const match = pattern.exec(url.pathname);
    if (!match) continue;
    pathMatched = true;
    if (m !== method) continue;
    if (m === 'POST') checkPost(req);
    let id = '';
    try {
      id = match[1] === undefined ? '' : decodeURIComponent(match[1]);
    } catch {
      throw invalid('the command id in the path is not valid percent-encoding');
    }
    if (id.length > 512) throw invalid('the command id in the path is longer than 512 characters');
    return handle(deps, { req, res, url, id, token: () => deps.sessions.tokenFor(req) });
  }
  if (pathMatched) throw new ApiError(405, `${req.method} is not allowed on ${url.pathname}`, 'UNIMPLEMENTED');
  throw new ApiError(404, `no API route ${url.pathname}`, 'NOT_FOUND');
}
