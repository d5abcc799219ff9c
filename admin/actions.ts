/**
 * What an operator can read and do, shared by the HTML pages and the JSON API:
 * each action goes through the guarded store and is logged as a lifecycle event.
 */
import type { Sessionkeeper } from '../middleware/sessionkeeper.ts';
import { isWellFormedPublicId } from '../middleware/ids.ts';
import { StoreUnavailableError, type SessionPage } from '../middleware/store.ts';
import { InvalidParameterError, type ListQuery } from './list-query.ts';

/** The totals of the dashboard and of `GET <prefix>/api/stats` (`/admin/api/stats` by default). */
export interface StoreStats {
  /** The store kind: `file`, `redis` or `postgres`. */
  store: string;
  /** Whether the store answered a ping. */
  healthy: boolean;
  /** Sessions not yet expired. */
  live: number;
  /** `session.created` events this process recorded in the last hour. */
  createdLastHour: number;
  /** `session.expired` events this process recorded in the last hour. */
  expiredLastHour: number;
}

/** One page of live sessions; never more than `query.limit` read from the store. */
export function listSessions(sessions: Sessionkeeper, query: ListQuery, nowMs = Date.now()): Promise<SessionPage> {
  return sessions.store.list({ ...query, now: nowMs });
}

/**
 * The totals. `healthy` is the store's answer to a ping; the live count needs
 * the store too, so a store that does not answer makes this reject (503).
 */
export async function readStats(sessions: Sessionkeeper, nowMs = Date.now()): Promise<StoreStats> {
  const [ping, live] = await Promise.allSettled([sessions.store.ping(), sessions.store.count(nowMs)]);
  if (live.status === 'rejected') throw live.reason;
  return {
    store: sessions.store.kind,
    healthy: ping.status === 'fulfilled',
    live: live.value,
    createdLastHour: sessions.events.countRecent('session.created'),
    expiredLastHour: sessions.events.countRecent('session.expired'),
  };
}

/**
 * Ends one session by its public id; false when no such session exists. An id
 * that is not a well-formed public id never reaches the store: it throws
 * InvalidParameterError (400).
 */
export async function endOneSession(sessions: Sessionkeeper, id: string): Promise<boolean> {
  if (!isWellFormedPublicId(id)) throw new InvalidParameterError('That is not a session id: ids are the 43-character public ids the dashboard shows.');
  const removed = await sessions.store.destroy(id);
  if (removed) sessions.events.record('session.destroyed', { sid: id, by: 'admin' });
  return removed;
}

/** How long an operator's purge may run before the answer is 503; the sweep itself carries on. */
const PURGE_ANSWER_WITHIN_MS = 4_000;

/**
 * Sweeps expired sessions now (each logged as `session.expired`); returns how
 * many it removed. A sweep that outlasts PURGE_ANSWER_WITHIN_MS (a huge
 * backlog, a slow store) answers 503 while it finishes and logs in the background.
 */
export async function purgeExpiredSessions(sessions: Sessionkeeper): Promise<number> {
  const sweep = sessions.sweeper.sweepNow().then(({ expired }) => {
    sessions.events.record('sessions.purged', { count: expired, scope: 'expired', by: 'admin' });
    return expired;
  });
  let timer: NodeJS.Timeout | undefined;
  const tooSlow = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(sessions.store.kind, 'The purge is still running; it finishes in the background and logs each expired session.')), PURGE_ANSWER_WITHIN_MS);
  });
  sweep.catch(() => undefined); // awaited below; a late failure after a 503 is the sweeper's to log
  try {
    return await Promise.race([sweep, tooSlow]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ends every session, live or expired; returns how many there were. */
export async function endAllSessions(sessions: Sessionkeeper): Promise<number> {
  const count = await sessions.store.destroyAll();
  sessions.events.record('sessions.purged', { count, scope: 'all', by: 'admin' });
  return count;
}
