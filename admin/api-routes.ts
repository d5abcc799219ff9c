/**
 * The JSON API for scripts (the README's "JSON API" table): times as ISO 8601 strings,
 * sessions named by their public ids, errors as `{ "error": "…" }`.
 */
import type Router from '@koa/router';
import type { SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import type { DeviceFacts, SessionSummary } from '../middleware/store.ts';
import { endAllSessions, endOneSession, endSessionsOfOwner, latestEvents, listSessions, purgeExpiredSessions, readStats } from './actions.ts';
import type { AdminAuth } from './auth.ts';
import { InvalidParameterError, parseLimit, parseListQuery } from './list-query.ts';
import type { AdminPaths } from './paths.ts';

/** A session as the API shows it. */
export interface ApiSession {
  /** The public id (a digest of the cookie's id, never the id itself). */
  id: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601: the last request that touched the session. */
  lastSeenAt: string;
  /** ISO 8601. */
  expiresAt: string;
  /** Size of the stored data as JSON. */
  sizeBytes: number;
  /** The top-level keys of the session data; never the values. */
  keys: string[];
  /** Who the session belongs to; absent when it has no owner. */
  owner?: string;
  /** The shortened user agent and client address it was created from; only with `SESSION_TRACK_DEVICE`. */
  device?: DeviceFacts;
}

/** A session summary as the API (and the CLI's `--json`) shows it. */
export function toApiSession(summary: SessionSummary): ApiSession {
  return {
    id: summary.id,
    createdAt: new Date(summary.createdAt).toISOString(),
    lastSeenAt: new Date(summary.lastSeenAt).toISOString(),
    expiresAt: new Date(summary.expiresAt).toISOString(),
    sizeBytes: summary.sizeBytes,
    keys: summary.keys,
    ...(summary.owner === undefined ? {} : { owner: summary.owner }),
    ...(summary.device === undefined ? {} : { device: summary.device }),
  };
}

/** Adds the routes under `<prefix>/api`. */
export function addApiRoutes(router: Router, paths: AdminPaths, sessions: SessionkeeperCore, auth: AdminAuth): void {
  router.get(paths.at('/api/sessions'), auth.requireApi, async (ctx) => {
    const page = await listSessions(sessions, parseListQuery(ctx.query, ctx.querystring));
    ctx.body = { sessions: page.sessions.map(toApiSession), nextCursor: page.nextCursor };
  });

  router.get(paths.at('/api/stats'), auth.requireApi, async (ctx) => {
    ctx.body = await readStats(sessions);
  });

  router.get(paths.at('/api/events'), auth.requireApi, async (ctx) => {
    ctx.body = { events: await latestEvents(sessions, parseLimit(ctx.query)) };
  });

  router.delete(paths.at('/api/sessions/:id'), auth.requireApi, async (ctx) => {
    if (!(await endOneSession(sessions, ctx.params.id!))) ctx.throw(404, 'No live session has that id: it has expired or was ended.');
    ctx.body = { removed: 1 };
  });

  // The router decodes the owner from its path segment (`%2F` for `/`, `%25` for `%`). An empty segment is
  // answered here too, with the same 400 as any other owner that cannot be one, not as an unknown path.
  router.delete([paths.at('/api/owners/:owner/sessions'), paths.at('/api/owners//sessions')], auth.requireApi, async (ctx) => {
    ctx.body = { removed: await endSessionsOfOwner(sessions, ownerInPath(ctx)) };
  });

  router.post(paths.at('/api/purge-expired'), auth.requireApi, async (ctx) => {
    ctx.body = { removed: await purgeExpiredSessions(sessions) };
  });

  router.post(paths.at('/api/purge-all'), auth.requireApi, async (ctx) => {
    ctx.body = { removed: await endAllSessions(sessions) };
  });
}

/**
 * The owner named by the path (its first capture, the `:owner` segment as sent), decoded here: the router
 * would keep a segment that is not valid percent-encoded UTF-8 as it was sent (`%E0`), which would end the
 * sessions of an owner literally called `%E0`, so it is refused.
 */
function ownerInPath(ctx: { captures?: string[] }): string {
  const raw = ctx.captures?.[0] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidParameterError('The owner in the path is not valid percent-encoded UTF-8.');
  }
}
