/**
 * The event log of a store that keeps none itself (a custom backend): held in
 * this process's memory, so each process shows only what it recorded and a
 * restart forgets it. Bounded by the retention and by a number of events.
 */
import { InvalidCursorError } from '../cursor.ts';
import type { LifecycleEvent } from '../events.ts';
import { type EventCounts, type EventLog, type EventLogPage, type EventLogSize, MINUTE_MS, minuteOf, TALLY_KEEP_MS } from './event-log.ts';

const MAX_HELD = 10_000;

export class MemoryEventLog implements EventLog {
  /** Events in append order, each with its sequence number (the position after it). */
  readonly #held: { seq: number; entry: LifecycleEvent }[] = [];
  #lastSeq = 0;

  constructor(private readonly retentionMs: number) {}

  async init(): Promise<void> {}

  async append(events: readonly LifecycleEvent[]): Promise<void> {
    for (const entry of events) this.#held.push({ seq: ++this.#lastSeq, entry });
    if (this.#held.length > MAX_HELD) this.#held.splice(0, this.#held.length - MAX_HELD);
  }

  async latest(limit: number): Promise<EventLogPage> {
    const cutoff = Date.now() - this.retentionMs;
    const within = this.#held.filter(({ entry }) => Date.parse(entry.at) >= cutoff).map(({ entry }) => entry);
    return { events: limit === 0 ? [] : within.slice(-limit).reverse(), position: String(this.#lastSeq) };
  }

  async readAfter(position: string | undefined, limit: number): Promise<EventLogPage> {
    if (position === undefined) return { events: [], position: String(this.#lastSeq) };
    if (!/^\d{1,15}$/.test(position)) throw new InvalidCursorError();
    const after = Number(position);
    const cutoff = Date.now() - this.retentionMs;
    const page = this.#held.filter(({ seq }) => seq > after).slice(0, limit);
    return {
      events: page.filter(({ entry }) => Date.parse(entry.at) >= cutoff).map(({ entry }) => entry),
      position: String(page.at(-1)?.seq ?? after),
    };
  }

  async countSince(sinceMs: number): Promise<EventCounts> {
    const counts: EventCounts = {};
    const firstMinute = Math.ceil(sinceMs / MINUTE_MS);
    for (const { entry } of this.#held) if (minuteOf(entry.at) >= firstMinute) counts[entry.event] = (counts[entry.event] ?? 0) + 1;
    return counts;
  }

  /** Events double as the tallies here: those of the last hour stay, hidden from reads once past retention. */
  async trim(beforeMs: number, nowMs: number): Promise<void> {
    const keepFrom = Math.min(beforeMs, nowMs - TALLY_KEEP_MS);
    const firstKept = this.#held.findIndex(({ entry }) => Date.parse(entry.at) >= keepFrom);
    this.#held.splice(0, firstKept === -1 ? this.#held.length : firstKept);
  }

  async size(): Promise<EventLogSize> {
    const bytes = this.#held.reduce((sum, { entry }) => sum + Buffer.byteLength(JSON.stringify(entry)), 0);
    return { events: this.#held.length, bytes };
  }
}
