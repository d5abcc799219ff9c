/**
 * A shared event log that counts how often it is read, to tell whether a
 * dashboard still follows it (a live stream open) or has let go. The log
 * itself is the store's real one; only the counting is added.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLog } from '../../middleware/event-log/event-log.ts';
import type { SessionStore } from '../../middleware/store.ts';

export class WatchedEventLog implements EventLog {
  /** Calls of `readAfter`: what a follower makes on every poll. */
  reads = 0;

  constructor(readonly inner: EventLog) {}

  init() { return this.inner.init(); }
  append(...args: Parameters<EventLog['append']>) { return this.inner.append(...args); }
  latest(limit: number) { return this.inner.latest(limit); }
  readAfter(position: string | undefined, limit: number) {
    this.reads += 1;
    return this.inner.readAfter(position, limit);
  }
  countSince(sinceMs: number) { return this.inner.countSince(sinceMs); }
  trim(beforeMs: number, nowMs: number) { return this.inner.trim(beforeMs, nowMs); }
  size() { return this.inner.size(); }

  /** Whether anything read the log during the next `windowMs` (several poll intervals). */
  async isFollowed(windowMs: number): Promise<boolean> {
    const before = this.reads;
    await sleep(windowMs);
    return this.reads > before;
  }
}

/** The store as it is, except that the event log it opens is watched (`watched.log` once opened). */
export function withWatchedEventLog(store: SessionStore): { store: SessionStore; log(): WatchedEventLog } {
  let watched: WatchedEventLog | undefined;
  const proxy = new Proxy(store, {
    get(target, name) {
      if (name === 'openEventLog') {
        return (retentionMs: number) => (watched = new WatchedEventLog(target.openEventLog!(retentionMs)));
      }
      const value = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store: proxy,
    log() {
      if (!watched) throw new Error('the event log was not opened yet');
      return watched;
    },
  };
}
