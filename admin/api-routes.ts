/**
 * The JSON API for scripts (the README's "JSON API" table): times as ISO 8601 strings,
 * sessions named by their public ids, errors as `{ "error": "…" }`.
 */
import type Router from '@koa/router';
import type { SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import type { SessionSummary } from '../middleware/store.ts';
import { endAllSessions, endOneSession, latestEvents, listSessions, purgeExpiredSessions, readStats } from './actions.ts';
import type { AdminAuth } from './auth.ts';
import { parseLimit, parseListQuery } from './list-query.ts';
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
  };
}

/** Adds the routes under `<prefix>/api`. */
export function addApiRoutes(router: Router, paths: AdminPaths, sessions: SessionkeeperCore, auth: AdminAuth): void {
  router.get(paths.at('/api/sessions'), auth.requireApi, async (ctx) => {
    const page = await listSessions(sessions, parseListQuery(ctx.query));
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

  router.post(paths.at('/api/purge-expired'), auth.requireApi, async (ctx) => {
    ctx.body = { removed: await purgeExpiredSessions(sessions) };
  });

  router.post(paths.at('/api/purge-all'), auth.requireApi, async (ctx) => {
    ctx.body = { removed: await endAllSessions(sessions) };
  });
}
