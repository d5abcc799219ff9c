/**
 * The event log on Redis: a stream at `<prefix>_events` whose entries each hold
 * one event's JSON in the field `j`, and one hash of counts per minute at
 * `<prefix>_events:<minute>`. Both sit under the store's prefix (a namespace's
 * keys start with a letter, never `_`), so removing the prefix removes them.
 *
 * Every append trims the stream by age (`MINID ~`, whole radix nodes only:
 * cheap, and it bounds the stream even when nobody calls `trim`); tally hashes
 * expire by themselves. Positions are stream ids (`<ms>-<seq>`), assigned by
 * Redis in append order, so every reader sees one order.
 */
import { InvalidCursorError } from '../cursor.ts';
import type { LifecycleEvent } from '../events.ts';
import type { RedisStoreClient } from '../stores/redis-store.ts';
import { assertDated, type EventCounts, type EventLog, type EventLogPage, type EventLogSize, MINUTE_MS, TALLY_KEEP_MS, tallyByMinute } from './event-log.ts';

/** What `new RedisEventLog(…)` takes. */
export interface RedisEventLogOptions {
  /** The store's client: shared, so the log never connects or closes it. */
  client: RedisStoreClient;
  /** Key of the stream (`<prefix>_events`). */
  key: string;
  /** Start of the keys of the per-minute tally hashes, the minute number follows (`<prefix>_events:`). */
  tallyPrefix: string;
  /** Events older than this (ms) are never returned, and the stream drops them as it grows. */
  retentionMs: number;
}

/** The position before any entry: where an empty stream ends. */
const START_POSITION = '0-0';
const POSITION_PATTERN = /^(\d{1,20})-(\d{1,20})$/;
const MAX_ID_PART = 2n ** 64n - 1n;
/**
 * Reads of `readAfter` per call when events past retention (appended late, with an old `at`) thin a page out:
 * it reads on so that a short page normally means "nothing more yet", but never walks a huge backlog in one call.
 */
const MAX_READS_PER_PAGE = 10;

/** A shared, bounded log of lifecycle events in a Redis stream. Its methods keep the EventLog contract. */
export class RedisEventLog implements EventLog {
  private readonly client: RedisStoreClient;
  private readonly key: string;
  private readonly tallyPrefix: string;
  private readonly retentionMs: number;
  /** How long a tally hash lives after its minute ends: the counters' hour, or the retention when longer. */
  private readonly tallyKeepMs: number;

  constructor(options: RedisEventLogOptions) {
    this.client = options.client;
    this.key = options.key;
    this.tallyPrefix = options.tallyPrefix;
    this.retentionMs = options.retentionMs;
    this.tallyKeepMs = Math.max(options.retentionMs, TALLY_KEEP_MS);
  }

  /** Nothing to create: Redis makes the stream and the hashes on first write. */
  async init(): Promise<void> {}

  /** One MULTI: the entries and their tallies land together or not at all, and entries of a batch stay contiguous. */
  async append(events: readonly LifecycleEvent[]): Promise<void> {
    if (events.length === 0) return;
    assertDated(events);
    const trimBelow = Math.max(0, Date.now() - this.retentionMs);
    const transaction = this.client.multi();
    // Trimmed once per batch, with its last entry: trimming with every entry sent the same arguments again.
    events.forEach((event, index) => {
      const trim = index === events.length - 1 ? { TRIM: { strategy: 'MINID' as const, strategyModifier: '~' as const, threshold: trimBelow } } : undefined;
      transaction.xAdd(this.key, '*', { j: JSON.stringify(event) }, trim);
    });
    for (const [minute, counts] of tallyByMinute(events)) {
      const tallyKey = this.tallyKey(minute);
      for (const [name, count] of counts) transaction.hIncrBy(tallyKey, name, count);
      // A minute past even this is already expired: Redis deletes the hash at once, as it should.
      transaction.pExpireAt(tallyKey, (minute + 1) * MINUTE_MS + this.tallyKeepMs + MINUTE_MS);
    }
    await transaction.exec();
  }

  /**
   * One XREVRANGE; the newest entry gives the position even when it is past retention, or when `limit` is 0.
   * Entries past retention are left out, not replaced by older ones: among the newest, they are only events
   * appended late with an old time, so the page is at most a few short.
   */
  async latest(limit: number): Promise<EventLogPage> {
    const newest = await this.client.xRevRange(this.key, '+', '-', { COUNT: Math.max(limit, 1) });
    const cutoffMs = Date.now() - this.retentionMs;
    const events = newest.slice(0, limit).map(decodeEntry).filter((event) => isWithin(event, cutoffMs));
    return { events, position: newest[0]?.id ?? START_POSITION };
  }

  async readAfter(position: string | undefined, limit: number): Promise<EventLogPage> {
    if (position === undefined) return { events: [], position: (await this.latest(0)).position };
    // The last id there can be: nothing follows it (and Redis refuses an exclusive range from it).
    const { ms, seq } = parsePosition(position);
    if (ms === MAX_ID_PART && seq === MAX_ID_PART) return { events: [], position };
    const cutoffMs = Date.now() - this.retentionMs;
    const events: LifecycleEvent[] = [];
    let lastRead = position;
    for (let reads = 0; reads < MAX_READS_PER_PAGE && events.length < limit; reads++) {
      const wanted = limit - events.length;
      const entries = await this.client.xRange(this.key, `(${lastRead}`, '+', { COUNT: wanted });
      for (const entry of entries) {
        const event = decodeEntry(entry);
        if (isWithin(event, cutoffMs)) events.push(event);
      }
      lastRead = entries.at(-1)?.id ?? lastRead;
      if (entries.length < wanted) break;
    }
    return { events, position: lastRead };
  }

  /** One MULTI of HGETALL over the minutes from `sinceMs` to the next one (a writer's clock may run a little ahead). */
  async countSince(sinceMs: number): Promise<EventCounts> {
    const minutes = this.tallyMinutesFrom(Math.ceil(sinceMs / MINUTE_MS));
    const counts: EventCounts = {};
    if (minutes.length === 0) return counts;
    const transaction = this.client.multi();
    for (const minute of minutes) transaction.hGetAll(this.tallyKey(minute));
    const tallies = (await transaction.exec()) as unknown as Record<string, string>[];
    for (const tally of tallies) {
      for (const [name, count] of Object.entries(tally ?? {})) {
        const event = name as keyof EventCounts;
        counts[event] = (counts[event] ?? 0) + Number(count);
      }
    }
    return counts;
  }

  /** Exact trim of the stream by entry id (append time); tally hashes expire by themselves, so `nowMs` is not needed. */
  async trim(beforeMs: number, _nowMs: number): Promise<void> {
    await this.client.xTrim(this.key, 'MINID', Math.max(0, Math.floor(beforeMs)), { strategyModifier: '=' });
  }

  /** XLEN, and MEMORY USAGE (sampled: an estimate on a large stream) of the stream and of every tally hash that may exist. */
  async size(): Promise<EventLogSize> {
    const transaction = this.client.multi().xLen(this.key).memoryUsage(this.key);
    for (const minute of this.tallyMinutesFrom(-Infinity)) transaction.memoryUsage(this.tallyKey(minute));
    const [events, ...bytes] = (await transaction.exec()) as unknown as (number | null)[];
    return { events: Number(events), bytes: bytes.reduce<number>((sum, used) => sum + Number(used ?? 0), 0) };
  }

  /**
   * The minutes from `firstMinute` whose tally hash may still exist: none has outlived its expiry, and the
   * next minute is included for writers whose clock runs a little ahead of this one.
   */
  private tallyMinutesFrom(firstMinute: number): number[] {
    const nowMs = Date.now();
    const oldestKept = Math.floor((nowMs - this.tallyKeepMs) / MINUTE_MS) - 2;
    const newest = Math.floor(nowMs / MINUTE_MS) + 1;
    const minutes: number[] = [];
    for (let minute = Math.max(firstMinute, oldestKept); minute <= newest; minute++) minutes.push(minute);
    return minutes;
  }

  private tallyKey(minute: number): string {
    return `${this.tallyPrefix}${minute}`;
  }
}

/** The parts of a stream id, or InvalidCursorError for anything else: the position goes into a command. */
function parsePosition(position: string): { ms: bigint; seq: bigint } {
  const match = POSITION_PATTERN.exec(position);
  if (!match) throw new InvalidCursorError();
  const [ms, seq] = [BigInt(match[1]!), BigInt(match[2]!)];
  if (ms > MAX_ID_PART || seq > MAX_ID_PART) throw new InvalidCursorError();
  return { ms, seq };
}

function decodeEntry(entry: { message: Record<string, string> }): LifecycleEvent {
  return JSON.parse(entry.message.j!) as LifecycleEvent;
}

function isWithin(event: LifecycleEvent, cutoffMs: number): boolean {
  return Date.parse(event.at) >= cutoffMs;
}
