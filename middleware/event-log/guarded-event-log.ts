/**
 * The shared event log as the dashboard, the API and the CLI read it: each
 * call bounded in time, and a backend that does not answer turned into a
 * StoreUnavailableError (503), as for the sessions themselves. Appends do not
 * come through here: the recorder bounds them and counts what it drops.
 */
import { InvalidCursorError } from '../cursor.ts';
import type { LifecycleEvent } from '../events.ts';
import { StoreUnavailableError, type StoreKind } from '../store.ts';
import { within } from '../time-limit.ts';
import type { EventCounts, EventLog, EventLogPage, EventLogSize } from './event-log.ts';

export class GuardedEventLog implements EventLog {
  /**
   * @param inner the backend's log.
   * @param storeKind the store it lives in, named in the 503's message.
   * @param timeoutMs the bound on one call.
   */
  constructor(readonly inner: EventLog, private readonly storeKind: StoreKind, private readonly timeoutMs: number) {}

  init(): Promise<void> { return this.#run(() => this.inner.init()); }
  append(events: readonly LifecycleEvent[]): Promise<void> { return this.#run(() => this.inner.append(events)); }
  latest(limit: number): Promise<EventLogPage> { return this.#run(() => this.inner.latest(limit)); }
  readAfter(position: string | undefined, limit: number): Promise<EventLogPage> { return this.#run(() => this.inner.readAfter(position, limit)); }
  countSince(sinceMs: number): Promise<EventCounts> { return this.#run(() => this.inner.countSince(sinceMs)); }
  /** Not bounded: a long trim is a sweep's business, and stopping to wait for it would not stop it. */
  trim(beforeMs: number, nowMs: number): Promise<void> { return this.#run(() => this.inner.trim(beforeMs, nowMs), false); }
  size(): Promise<EventLogSize> { return this.#run(() => this.inner.size()); }

  async #run<T>(call: () => Promise<T>, bounded = true): Promise<T> {
    try {
      return await (bounded ? within(call(), this.timeoutMs) : call());
    } catch (cause) {
      if (cause instanceof InvalidCursorError) throw cause;
      throw new StoreUnavailableError(this.storeKind, `The ${this.storeKind} session store is not answering.`, { cause });
    }
  }
}
