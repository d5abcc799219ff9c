import { EventEmitter } from 'node:events';
import type { Logger } from './logger.ts';
import type { StoreKind } from './store.ts';

/** The lifecycle events sessionkeeper logs and emits (the README's "Lifecycle events" lists each with its fields). */
export type LifecycleEventName =
  | 'session.created'
  | 'session.destroyed'
  | 'session.expired'
  | 'session.evicted'
  | 'session.regenerated'
  | 'sessions.purged';

/** Who ended a session: the visitor (`user`), an operator (`admin`) or the application's own code (`app`). */
export type DestroyedBy = 'user' | 'admin' | 'app';

/** One lifecycle event as logged, emitted and shown on the dashboard. */
export interface LifecycleEvent {
  /** Which event this is. */
  event: LifecycleEventName;
  /** Public id of the session (absent on `sessions.purged`). */
  sid?: string;
  /** The backend that holds the session (`file`, `redis` or `postgres`). */
  store: StoreKind;
  /** ISO 8601 time of the event. */
  at: string;
  /** `session.destroyed`: who ended it; `sessions.purged`: always `admin` (an operator's bulk action). */
  by?: DestroyedBy;
  /** `session.regenerated`: the public id the session had before. */
  previousSid?: string;
  /** `sessions.purged`: how many sessions the bulk action removed. */
  count?: number;
  /** `sessions.purged`: which sessions it removed: the expired ones, or every session live or expired. */
  scope?: 'expired' | 'all';
}

export type LifecycleDetails = Omit<LifecycleEvent, 'event' | 'store' | 'at'>;

const HISTORY_SIZE = 1000;
const MINUTE_MS = 60_000;
const COUNTED_MINUTES = 60;

/**
 * Logs each lifecycle event as one structured line, emits it (by name and as
 * `'event'`) for library users, and keeps the latest ones for the dashboard's
 * feed. The history is this process's own: each process shows what it saw.
 */
export class SessionEvents extends EventEmitter {
  readonly #history: LifecycleEvent[] = [];
  /** Per event, counts per minute over the last hour: the feed is capped, these totals are not. */
  readonly #perMinute = new Map<LifecycleEventName, Map<number, number>>();

  constructor(private readonly logger: Logger, private readonly storeKind: StoreKind) {
    super();
  }

  /** Records one event: log line, history, listeners. */
  record(event: LifecycleEventName, details: LifecycleDetails = {}): LifecycleEvent {
    const entry: LifecycleEvent = { event, ...details, store: this.storeKind, at: new Date().toISOString() };
    this.logger.info(entry, event);
    this.#history.push(entry);
    if (this.#history.length > HISTORY_SIZE) this.#history.splice(0, this.#history.length - HISTORY_SIZE);
    this.#count(event, Date.now(), details.count ?? 1);
    this.#deliver(event, entry);
    this.#deliver('event', entry);
    return entry;
  }

  /**
   * Calls each listener on its own: a listener that throws is logged and the
   * others still run, so the sweeper never stops halfway through a batch it
   * has already removed from the store.
   */
  #deliver(name: string, entry: LifecycleEvent): void {
    for (const listener of this.rawListeners(name) as ((entry: LifecycleEvent) => void)[]) {
      try {
        listener.call(this, entry);
      } catch (err) {
        this.logger.error({ err, event: entry.event, sid: entry.sid }, 'a lifecycle event listener threw');
      }
    }
  }

  /** The latest events, newest first. */
  recent(limit: number): LifecycleEvent[] {
    return this.#history.slice(-limit).reverse();
  }

  /**
   * How many events of a kind this process recorded in the last `windowMs`
   * (at most an hour), to the minute. For `sessions.purged` it sums the counts.
   */
  countRecent(event: LifecycleEventName, windowMs = COUNTED_MINUTES * MINUTE_MS): number {
    const firstMinute = Math.floor((Date.now() - windowMs) / MINUTE_MS) + 1;
    let total = 0;
    for (const [minute, count] of this.#perMinute.get(event) ?? []) if (minute >= firstMinute) total += count;
    return total;
  }

  #count(event: LifecycleEventName, nowMs: number, amount: number): void {
    const minute = Math.floor(nowMs / MINUTE_MS);
    const buckets = this.#perMinute.get(event) ?? new Map<number, number>();
    this.#perMinute.set(event, buckets);
    buckets.set(minute, (buckets.get(minute) ?? 0) + amount);
    for (const old of buckets.keys()) if (old <= minute - COUNTED_MINUTES) buckets.delete(old);
  }
}
