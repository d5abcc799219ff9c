/**
 * The shared event log: every lifecycle event, appended once by the process
 * that recorded it, kept in the store beside the sessions so that every
 * process reads the same feed, live stream and counters. Each backend keeps
 * it its own way (a capped stream on Redis, a table on PostgreSQL, segment
 * files on the file store); this is the contract they all keep.
 *
 * Events older than the retention (`SESSION_EVENTS_RETENTION`) are never
 * returned, even before `trim` has removed them. Counters are tallied per
 * minute as events are appended, so reading "the last hour" never reads the
 * events themselves; tallies are kept for at least an hour, whatever the
 * retention.
 */
import type { LifecycleEvent, LifecycleEventName } from '../events.ts';

/** Per event name, how many were appended. Names never appended are absent. */
export type EventCounts = Partial<Record<LifecycleEventName, number>>;

/** Events read from the log and where to go on reading from. */
export interface EventLogPage {
  /** The events, in the order the call documents. */
  events: LifecycleEvent[];
  /** Opaque position just after the newest event read (or the log's end): pass it to `readAfter`. */
  position: string;
}

/** How big the log is, for operators and benchmarks. */
export interface EventLogSize {
  /** Events held, including any past retention that `trim` has not removed yet. */
  events: number;
  /** Bytes the backend uses for the log and its tallies (approximate where the backend only estimates). */
  bytes: number;
}

/** A shared, bounded log of lifecycle events. Methods reject when the backend does not answer. */
export interface EventLog {
  /** Creates what the log needs (a table, a directory); safe from several processes at once. */
  init(): Promise<void>;
  /** Appends events in the order given, all or none, and tallies them per minute of their `at`. */
  append(events: readonly LifecycleEvent[]): Promise<void>;
  /**
   * The newest events within retention, newest first, at most `limit` (0..1000), and the position just
   * after the newest event in the log: reading on from it misses nothing appended after this call.
   */
  latest(limit: number): Promise<EventLogPage>;
  /**
   * Events appended after `position`, oldest first, at most `limit` (1..1000), within retention, in the order
   * they were appended (the same order for every reader, in every process). Without a position it returns no
   * events and the position of the log's end, to follow from now on.
   */
  readAfter(position: string | undefined, limit: number): Promise<EventLogPage>;
  /** How many events of each name were appended with an `at` in a minute that starts at or after `sinceMs`. */
  countSince(sinceMs: number): Promise<EventCounts>;
  /**
   * Removes events older than `beforeMs` (a log kept in time segments removes each segment once all of it is
   * older), and tallies older than both `beforeMs` and an hour before `nowMs`.
   */
  trim(beforeMs: number, nowMs: number): Promise<void>;
  /** Events held and bytes used. */
  size(): Promise<EventLogSize>;
}

/** Minutes are the counters' grain. */
export const MINUTE_MS = 60_000;

/** Tallies are kept at least this long, so "the last hour" counts hold whatever the retention. */
export const TALLY_KEEP_MS = 60 * MINUTE_MS;

/** Largest page `latest` and `readAfter` return. */
export const MAX_EVENTS_PAGE = 1000;

/** An event without a parsable time would be tallied under no minute: every log refuses the batch before writing any of it. */
export function assertDated(events: readonly LifecycleEvent[]): void {
  for (const { event, at } of events) {
    if (!Number.isFinite(Date.parse(at))) throw new TypeError(`event ${event} has no valid time: ${JSON.stringify(at)}`);
  }
}

/** The minute an event is tallied under. */
export function minuteOf(atIso: string): number {
  return Math.floor(Date.parse(atIso) / MINUTE_MS);
}

/** Start of the first whole minute of the last hour before `nowMs`: the window of the dashboard's counters. */
export function lastHourStart(nowMs: number): number {
  return (Math.floor((nowMs - TALLY_KEEP_MS) / MINUTE_MS) + 1) * MINUTE_MS;
}

/** Per-minute tallies of a batch: `minute → event → count`, how every backend adds them up. */
export function tallyByMinute(events: readonly LifecycleEvent[]): Map<number, Map<LifecycleEventName, number>> {
  const tallies = new Map<number, Map<LifecycleEventName, number>>();
  for (const { event, at } of events) {
    const minute = minuteOf(at);
    const counts = tallies.get(minute) ?? new Map<LifecycleEventName, number>();
    tallies.set(minute, counts);
    counts.set(event, (counts.get(event) ?? 0) + 1);
  }
  return tallies;
}
