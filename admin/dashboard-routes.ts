/** The HTML dashboard: the sessions page, the forced-cleanup forms and the confirmation step. */
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { ParsedUrlQuery } from 'node:querystring';
import type { SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import { StoreUnavailableError, type SessionSummary } from '../middleware/store.ts';
import { isWellFormedPublicId } from '../middleware/ids.ts';
import { assertSameOrigin } from '../web/same-origin.ts';
import type { Render } from '../web/render.ts';
import type { LifecycleEvent } from '../middleware/events.ts';
import { formatDurationLong } from '../web/format.ts';
import { countOwnerSessions, endAllSessions, endOneSession, endSessionsOfOwner, latestEvents, listSessions, purgeExpiredSessions, readStats } from './actions.ts';
import { adminSessionOf, type AdminAuth, seeOther } from './auth.ts';
import { assertCsrfToken, CSRF_FIELD } from './csrf.ts';
import type { EventStreams } from './event-stream.ts';
import { formField, parseForm } from './form-body.ts';
import { shortId, shortOwner } from './format.ts';
import { checkedOwner, DEFAULT_PAGE_SIZE, parseListQuery, parseOwnerFilter, type ListQuery } from './list-query.ts';
import type { AdminPaths } from './paths.ts';

/** Events shown in the feed when the page loads; the stream adds newer ones. */
const FEED_SIZE = 50;

/** The sessions page's address for a list query (and the result of an action), keeping only what differs from the defaults. */
function sessionsUrl(home: string, query: Partial<ListQuery>, result: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  // The owner first: it is what the page is about, and the rest of the address pages through it.
  if (query.owner !== undefined) params.set('owner', query.owner);
  if (query.sort && query.sort !== 'activity') params.set('sort', query.sort);
  if (query.limit && query.limit !== DEFAULT_PAGE_SIZE) params.set('limit', String(query.limit));
  if (query.cursor) params.set('cursor', query.cursor);
  for (const [name, value] of Object.entries(result)) params.set(name, value);
  const search = params.toString();
  return search ? `${home}?${search}` : home;
}

/** The confirmation page of ending every session of `owner`. */
function endOwnerUrl(paths: AdminPaths, owner: string): string {
  return `${paths.at('/end-owner')}?${new URLSearchParams({ owner })}`;
}

/** What the last action removed, from the redirect's query; anything unrecognised shows nothing. */
function resultOf(query: ParsedUrlQuery): string | undefined {
  const removed = typeof query.removed === 'string' && /^\d{1,12}$/.test(query.removed) ? Number(query.removed) : undefined;
  const sessionsWord = (n: number) => (n === 1 ? '1 session' : `${n} sessions`);
  if (query.done === 'ended' && isWellFormedPublicId(query.sid)) return `Ended session ${shortId(query.sid)}.`;
  if (query.done === 'purged-expired' && removed !== undefined) return `Purged expired sessions: ${sessionsWord(removed)} removed.`;
  if (query.done === 'ended-all' && removed !== undefined) return `Ended every session: ${sessionsWord(removed)} removed.`;
  // The owner is the page's own filter, checked already (400 otherwise).
  if (query.done === 'ended-owner' && removed !== undefined && typeof query.owner === 'string') {
    return `Ended every session of ${shortOwner(query.owner)}: ${sessionsWord(removed)} removed.`;
  }
  return undefined;
}

/** The feed of the page: the shared log's latest events, or why it cannot be shown (the rest of the page still can). */
async function readFeed(sessions: SessionkeeperCore): Promise<{ events: LifecycleEvent[]; feedError?: string }> {
  try {
    return { events: await latestEvents(sessions, FEED_SIZE) };
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    return { events: [], feedError: `The shared event log cannot be read: ${err.message}` };
  }
}

/** Adds the sessions page, the cleanup forms, the confirmation pages and the live event stream. */
export function addDashboardRoutes(router: Router, paths: AdminPaths, sessions: SessionkeeperCore, auth: AdminAuth, render: Render, streams: EventStreams): void {
  const home = paths.base;
  /** Every form that changes something: signed in, same origin, and the session's CSRF token. */
  const checkedForm = [
    auth.requirePage,
    parseForm,
    async (ctx: Context, next: Next) => {
      assertSameOrigin(ctx);
      assertCsrfToken(ctx, formField(ctx, CSRF_FIELD), adminSessionOf(ctx)!.csrfToken);
      await next();
    },
  ];

  const pageLocals = (ctx: Context) => ({ signedIn: adminSessionOf(ctx), csrfField: CSRF_FIELD, nowMs: Date.now() });

  router.get([home, paths.at('/')], auth.requirePage, async (ctx) => {
    const query = parseListQuery(ctx.query, ctx.querystring);
    const locals = {
      ...pageLocals(ctx),
      title: 'Sessions',
      query,
      sessionsUrl: (query: Partial<ListQuery>) => sessionsUrl(home, query),
      endOwnerUrl: query.owner === undefined ? undefined : endOwnerUrl(paths, query.owner),
      storeKind: sessions.store.kind,
      storeLocation: sessions.store.location,
      previousLocation: sessions.transition?.previous.location,
      result: resultOf(ctx.query),
      retention: formatDurationLong(sessions.config.eventsRetentionMs),
      ...(await readFeed(sessions)),
    };
    try {
      // One after the other: on the file store each call walks the directory, and walks in parallel
      // share one thread pool, so each would take longer and risk the store's time limit.
      const stats = await readStats(sessions, locals.nowMs);
      const page = await listSessions(sessions, query, locals.nowMs);
      const firstByExpiry = query.sort === 'expiry' && !query.cursor;
      const soonest = firstByExpiry ? page : await listSessions(sessions, { limit: 1, sort: 'expiry' }, locals.nowMs);
      const nextToExpire: SessionSummary | undefined = soonest.sessions[0];
      await render(ctx, 'sessions', { ...locals, stats, page, nextToExpire });
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      // The page still shows the store, its location and the event feed: what an operator needs to see why.
      await render(ctx, 'sessions', { ...locals, storeError: err.message }, 503);
    }
  });

  router.post(paths.at('/sessions/:id/end'), ...checkedForm, async (ctx) => {
    const id = ctx.params.id!;
    if (!(await endOneSession(sessions, id))) ctx.throw(404, 'No session has that id any more: it has expired or was already ended.');
    seeOther(ctx, `${home}?done=ended&sid=${encodeURIComponent(id)}`);
  });

  router.post(paths.at('/purge-expired'), ...checkedForm, async (ctx) => {
    seeOther(ctx, `${home}?done=purged-expired&removed=${await purgeExpiredSessions(sessions)}`);
  });

  router.get(paths.at('/end-all'), auth.requirePage, async (ctx) => {
    const live = await sessions.store.count(Date.now());
    await render(ctx, 'confirm-end-all', { ...pageLocals(ctx), title: 'End every session?', live, storeKind: sessions.store.kind });
  });

  router.post(paths.at('/end-all'), ...checkedForm, async (ctx) => {
    seeOther(ctx, `${home}?done=ended-all&removed=${await endAllSessions(sessions)}`);
  });

  // The owner travels in the query string, to the confirmation page and from its form (which posts to the
  // same address): never in a path, since it may hold `/` or `%`, and never in a form field, whose line
  // breaks a browser rewrites as CRLF (another owner). The body carries only the CSRF token.
  router.get(paths.at('/end-owner'), auth.requirePage, async (ctx) => {
    const owner = checkedOwner(parseOwnerFilter(ctx.query, ctx.querystring));
    await render(ctx, 'confirm-end-owner', {
      ...pageLocals(ctx),
      title: 'End every session of this owner?',
      owner,
      live: await countOwnerSessions(sessions, owner),
      storeKind: sessions.store.kind,
      endOwnerUrl: endOwnerUrl(paths, owner),
      cancelUrl: sessionsUrl(home, { owner }),
    });
  });

  router.post(paths.at('/end-owner'), ...checkedForm, async (ctx) => {
    const owner = checkedOwner(parseOwnerFilter(ctx.query, ctx.querystring));
    const removed = await endSessionsOfOwner(sessions, owner);
    seeOther(ctx, sessionsUrl(home, { owner }, { done: 'ended-owner', removed: String(removed) }));
  });

  router.get(paths.at('/events/stream'), auth.requireApi, (ctx) => streams.open(ctx, adminSessionOf(ctx)));
}
