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
  | 'session.moved'
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
  /** `session.moved`: the store the session left (`SESSION_STORE_PREVIOUS`). */
  from?: StoreKind;
  /** `session.moved`: the store that holds it now (`SESSION_STORE`). */
  to?: StoreKind;
  /** `sessions.purged`: how many sessions the bulk action removed. */
  count?: number;
  /** `sessions.purged`: which sessions it removed: the expired ones, or every session live or expired. */
  scope?: 'expired' | 'all';
  /** Every event of an owned session: who it belongs to (`setSessionOwner`). */
  owner?: string;
}

/** What a caller says of an event; `store` only when it is not this process's store (the previous store's expiries during a switch). */
export type LifecycleDetails = Omit<LifecycleEvent, 'event' | 'store' | 'at'> & { store?: StoreKind };

/** Where recorded events go beyond this process: the shared event log's recorder. */
export interface EventSink {
  add(entry: LifecycleEvent): void;
  flushed(): Promise<void>;
}

/**
 * Logs each lifecycle event as one structured line, emits it (by name and as
 * `'event'`) for library users in this process, and hands it to the shared
 * event log, which every process's dashboard reads.
 */
export class SessionEvents extends EventEmitter {
  constructor(private readonly logger: Logger, private readonly storeKind: StoreKind, private readonly sink: EventSink) {
    super();
  }

  /** Records one event: log line, shared log (in the background), listeners. */
  record(event: LifecycleEventName, details: LifecycleDetails = {}): LifecycleEvent {
    const entry: LifecycleEvent = { event, ...details, store: details.store ?? this.storeKind, at: new Date().toISOString() };
    this.logger.info(entry, event);
    this.sink.add(entry);
    // Most processes have no listener: no listener arrays copied for them.
    if (this.listenerCount(event) > 0) this.#deliver(event, entry);
    if (this.listenerCount('event') > 0) this.#deliver('event', entry);
    return entry;
  }

  /** Resolves once every event recorded so far has reached the shared log, or been counted as dropped. */
  flushed(): Promise<void> {
    return this.sink.flushed();
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
}
