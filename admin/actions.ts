/**
 * What an operator can read and do, shared by the HTML pages and the JSON API:
 * each action goes through the guarded store and is logged as a lifecycle event.
 * An action answers once its events are in the shared log (or counted as
 * dropped), so the page or script that reads the feed next sees them.
 */
import type { SessionkeeperCore } from '../middleware/sessionkeeper.ts';
import { lastHourStart } from '../middleware/event-log/event-log.ts';
import type { LifecycleEvent } from '../middleware/events.ts';
import { isWellFormedPublicId } from '../middleware/ids.ts';
import { MAX_PAGE_SIZE, StoreUnavailableError, summaryOf, type SessionPage, type SessionSummary } from '../middleware/store.ts';
import { checkedOwner, InvalidParameterError, type ListQuery } from './list-query.ts';

/** The totals of the dashboard and of `GET <prefix>/api/stats` (`/admin/api/stats` by default). */
export interface StoreStats {
  /** The store kind: `file`, `redis` or `postgres`. */
  store: string;
  /** Whether the store answered a ping. */
  healthy: boolean;
  /** Sessions not yet expired. */
  live: number;
  /** `session.created` events of every process in the last hour, from the shared event log (to the minute). */
  createdLastHour: number;
  /** `session.expired` events, likewise. */
  expiredLastHour: number;
  /** `session.destroyed` events (by a visitor, an operator or the app), likewise. */
  destroyedLastHour: number;
  /** `session.evicted` events, likewise. */
  evictedLastHour: number;
  /** During a backend switch: the store sessions are moving away from. */
  previous?: PreviousStoreStats;
  /** During a backend switch: `session.moved` events of every process in the last hour. */
  movedLastHour?: number;
}

/** The previous store of a backend switch, in the totals. */
export interface PreviousStoreStats {
  /** Its kind. */
  store: string;
  /** Whether it answered a ping. */
  healthy: boolean;
  /** Sessions still there, not yet expired or moved; null while it does not answer (the totals still show). */
  live: number | null;
}

/** One page of live sessions (only `query.owner`'s when it names one); never more than `query.limit` read from the store. */
export function listSessions(sessions: SessionkeeperCore, query: ListQuery, nowMs = Date.now()): Promise<SessionPage> {
  return sessions.store.list({ ...query, now: nowMs });
}

/**
 * The totals. `healthy` is the store's answer to a ping; the live count and
 * the counters need the store too, so a store that does not answer makes this
 * reject (503). The counters are the shared log's: every process answers the same.
 */
export async function readStats(sessions: SessionkeeperCore, nowMs = Date.now()): Promise<StoreStats> {
  const [ping, live, counts, previous] = await Promise.allSettled([
    sessions.store.ping(),
    sessions.store.count(nowMs),
    sessions.eventLog.countSince(lastHourStart(nowMs)),
    readPreviousStats(sessions, nowMs),
  ]);
  if (live.status === 'rejected') throw live.reason;
  if (counts.status === 'rejected') throw counts.reason;
  const stats: StoreStats = {
    store: sessions.store.kind,
    healthy: ping.status === 'fulfilled',
    live: live.value,
    createdLastHour: counts.value['session.created'] ?? 0,
    expiredLastHour: counts.value['session.expired'] ?? 0,
    destroyedLastHour: counts.value['session.destroyed'] ?? 0,
    evictedLastHour: counts.value['session.evicted'] ?? 0,
  };
  if (previous.status === 'fulfilled' && previous.value) {
    stats.previous = previous.value;
    stats.movedLastHour = counts.value['session.moved'] ?? 0;
  }
  return stats;
}

/** The previous store's health and live count during a backend switch; undefined when none is under way. */
async function readPreviousStats(sessions: SessionkeeperCore, nowMs: number): Promise<PreviousStoreStats | undefined> {
  const previous = sessions.transition?.previous;
  if (!previous) return undefined;
  // One after the other: a file store's count walks its directory, and the current store's count runs meanwhile.
  const healthy = await previous.ping().then(() => true, () => false);
  const live = healthy ? await previous.count(nowMs).catch(() => null) : null;
  return { store: previous.kind, healthy: healthy && live !== null, live };
}

/** The latest events of every process, newest first, from the shared log. */
export async function latestEvents(sessions: SessionkeeperCore, limit: number): Promise<LifecycleEvent[]> {
  return (await sessions.eventLog.latest(limit)).events;
}

/**
 * One live session as the list shows it (times, size and key names, never the values), or undefined when
 * none has that id; read without rolling it forward, so looking changes nothing. A malformed id never
 * reaches the store: it throws InvalidParameterError.
 */
export async function readSession(sessions: SessionkeeperCore, id: string, nowMs = Date.now()): Promise<SessionSummary | undefined> {
  assertPublicId(id);
  const record = await sessions.store.get(id, nowMs);
  return record && summaryOf(id, record);
}

/**
 * Ends one session by its public id; false when no such session exists. An id
 * that is not a well-formed public id never reaches the store: it throws
 * InvalidParameterError (400).
 */
export async function endOneSession(sessions: SessionkeeperCore, id: string): Promise<boolean> {
  assertPublicId(id);
  // Read first for its owner, which the event carries (an id's owner never changes, so it still holds at the
  // destroy); read at time 0, so that an expired session not yet swept, which destroy removes too, is found.
  const owner = (await sessions.store.get(id, 0))?.owner;
  const removed = await sessions.store.destroy(id);
  if (removed) {
    sessions.events.record('session.destroyed', { sid: id, by: 'admin', ...(owner === undefined ? {} : { owner }) });
    await sessions.events.flushed();
  }
  return removed;
}

/**
 * Sweeps expired sessions now, however long it takes (each logged as `session.expired`), then logs the
 * operator's purge as `sessions.purged`; returns how many it removed. `onProgress` is told the running
 * total after each batch (the CLI's progress line).
 */
export async function purgeExpiredNow(sessions: SessionkeeperCore, onProgress?: (removedSoFar: number) => void): Promise<number> {
  const { expired } = await sessions.sweeper.sweepNow({ onProgress: onProgress && ((soFar) => onProgress(soFar.expired)) });
  sessions.events.record('sessions.purged', { count: expired, scope: 'expired', by: 'admin' });
  await sessions.events.flushed();
  return expired;
}

/** How long an operator's purge may run before the answer is 503; the sweep itself carries on. */
const PURGE_ANSWER_WITHIN_MS = 4_000;

/**
 * Sweeps expired sessions now (each logged as `session.expired`); returns how
 * many it removed. A sweep that outlasts PURGE_ANSWER_WITHIN_MS (a huge
 * backlog, a slow store) answers 503 while it finishes and logs in the background.
 */
export async function purgeExpiredSessions(sessions: SessionkeeperCore): Promise<number> {
  const sweep = purgeExpiredNow(sessions);
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
export async function endAllSessions(sessions: SessionkeeperCore): Promise<number> {
  const count = await sessions.store.destroyAll();
  sessions.events.record('sessions.purged', { count, scope: 'all', by: 'admin' });
  await sessions.events.flushed();
  return count;
}

/**
 * Ends every live session of `owner`, each logged as `session.destroyed` by admin with the owner; returns how
 * many. An owner that cannot name one (see `ownerProblem`) never reaches the store: it throws
 * InvalidParameterError (400).
 */
export async function endSessionsOfOwner(sessions: SessionkeeperCore, owner: string): Promise<number> {
  const ended = await sessions.endOwnerSessions(checkedOwner(owner), { by: 'admin' });
  await sessions.events.flushed();
  return ended;
}

/**
 * How many live sessions `owner` holds, for a confirmation page: one page of the owner index at most, so
 * `atLeast` is true when there may be more than `count`. InvalidParameterError (400) for an owner that cannot name one.
 */
export async function countOwnerSessions(sessions: SessionkeeperCore, owner: string, nowMs = Date.now()): Promise<{ count: number; atLeast: boolean }> {
  const page = await sessions.store.list({ owner: checkedOwner(owner), sort: 'activity', limit: MAX_PAGE_SIZE, now: nowMs });
  return { count: page.sessions.length, atLeast: page.nextCursor !== null };
}

function assertPublicId(id: string): void {
  if (!isWellFormedPublicId(id)) throw new InvalidParameterError('That is not a session id: ids are the 43-character public ids the dashboard shows.');
}
