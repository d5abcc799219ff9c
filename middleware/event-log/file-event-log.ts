/**
 * The file store's shared event log: a directory beside the session files
 * (`<dir>/.events`, skipped by every session walk) of append-only segments,
 * one per stretch of time, and per-minute tally files.
 *
 * - A batch of events is one `write` to the segment of the current time,
 *   opened with O_APPEND: on a local file system such a write lands whole at
 *   the end, whichever process makes it, so several processes share a segment
 *   without a lock. Each line is one event's JSON.
 * - A segment covers 1/24 of the retention (at least a minute, at most an
 *   hour); the sweeper's trim deletes segments entirely past the retention,
 *   which is how the log rotates. Nothing is rewritten.
 * - Tallies: `tally-<minute>` files of `<event> <count>` lines, appended the
 *   same way, so the counters read 60 small files, never the events.
 * - A reading position is a byte offset per recent segment, after the last
 *   complete line read: a line being written is read once it is whole. Offsets
 *   are kept for segments that ended less than a minute ago, so a batch a
 *   process appends just as a new segment begins is still read. (Followers may
 *   then see that batch after some of the new segment's events: each event
 *   still exactly once.)
 *
 * Events are not synced to the disk: a crash of the machine may lose the last
 * ones, never a session.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidCursorError } from '../cursor.ts';
import type { LifecycleEvent } from '../events.ts';
import { assertDated, type EventCounts, type EventLog, type EventLogPage, type EventLogSize, MINUTE_MS, TALLY_KEEP_MS, tallyByMinute } from './event-log.ts';

/** Directory of the log inside the store's directory; the dot keeps it out of session walks and namespaces. */
export const EVENT_LOG_DIR = '.events';

const SEGMENT_PATTERN = /^seg-(\d{1,15})\.jsonl$/;
const TALLY_PATTERN = /^tally-(\d{1,12})$/;
const HOUR_MS = 60 * MINUTE_MS;
/** How long after its end a segment may still receive a late batch, and readers keep its offset. */
const LATE_APPEND_GRACE_MS = MINUTE_MS;
/** Bytes read at a time. */
const CHUNK_BYTES = 256 * 1024;
const NEWLINE = 0x0a;

/** A reading position: segment start (ms) → bytes of it already read. */
type Offsets = Map<number, number>;

export class FileEventLog implements EventLog {
  readonly #dir: string;
  readonly #segmentMs: number;

  /**
   * @param storeDir the file store's directory.
   * @param retentionMs how long events are kept.
   */
  constructor(storeDir: string, private readonly retentionMs: number) {
    this.#dir = join(storeDir, EVENT_LOG_DIR);
    this.#segmentMs = Math.min(HOUR_MS, Math.max(MINUTE_MS, Math.floor(retentionMs / 24 / MINUTE_MS) * MINUTE_MS));
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
  }

  async append(events: readonly LifecycleEvent[]): Promise<void> {
    if (events.length === 0) return;
    assertDated(events);
    const segment = Math.floor(Date.now() / this.#segmentMs) * this.#segmentMs;
    const lines = events.map((entry) => `${JSON.stringify(entry)}\n`).join('');
    await this.#appendTo(segmentName(segment), lines);
    for (const [minute, counts] of tallyByMinute(events)) {
      await this.#appendTo(`tally-${minute}`, [...counts].map(([event, count]) => `${event} ${count}\n`).join(''));
    }
  }

  async latest(limit: number): Promise<EventLogPage> {
    const segments = await this.#segments();
    const position = await this.#endOffsets(segments);
    const events: LifecycleEvent[] = [];
    const cutoff = Date.now() - this.retentionMs;
    for (const start of [...segments].reverse()) {
      if (events.length >= limit || start + this.#segmentMs <= cutoff) break;
      const end = position.get(start) ?? (await this.#completeLength(start));
      for (const line of await this.#tailLines(start, end, limit - events.length)) {
        const entry = parseLine(line);
        if (entry && Date.parse(entry.at) >= cutoff) events.push(entry);
      }
    }
    return { events: events.slice(0, limit), position: encodePosition(position) };
  }

  async readAfter(position: string | undefined, limit: number): Promise<EventLogPage> {
    const segments = await this.#segments();
    if (position === undefined) return { events: [], position: encodePosition(await this.#endOffsets(segments)) };
    const offsets = decodePosition(position);
    const oldestTracked = Math.min(...offsets.keys());
    const events: LifecycleEvent[] = [];
    const cutoff = Date.now() - this.retentionMs;
    /** Segments whose reading stopped at the limit: their offset is kept however old they are. */
    const unfinished = new Set<number>();
    for (const start of segments) {
      if (events.length >= limit) break;
      // Older segments than the position knows were read in full before it was taken.
      if (!offsets.has(start) && start < oldestTracked) continue;
      // Lines past retention (or damaged) are skipped, and reading goes on to fill the page: a short page means the end.
      for (;;) {
        const wanted = limit - events.length;
        const { lines, offset } = await this.#readLines(start, offsets.get(start) ?? 0, wanted);
        offsets.set(start, offset);
        for (const line of lines) {
          const entry = parseLine(line);
          if (entry && Date.parse(entry.at) >= cutoff) events.push(entry);
        }
        if (lines.length < wanted) break; // this segment is read to its end
        if (events.length >= limit) {
          unfinished.add(start);
          break;
        }
      }
    }
    return { events, position: encodePosition(this.#stillNeeded(offsets, segments, unfinished)) };
  }

  async countSince(sinceMs: number): Promise<EventCounts> {
    const firstMinute = Math.ceil(sinceMs / MINUTE_MS);
    const counts: EventCounts = {};
    const names = (await this.#names()).filter((name) => Number(TALLY_PATTERN.exec(name)?.[1] ?? -1) >= firstMinute);
    for (const name of names) {
      const text = await readFile(join(this.#dir, name), 'utf8').catch(ignoreMissing);
      for (const line of (text ?? '').split('\n')) {
        const [event, count] = line.split(' ');
        if (event && count) counts[event as keyof EventCounts] = (counts[event as keyof EventCounts] ?? 0) + Number(count);
      }
    }
    return counts;
  }

  async trim(beforeMs: number, nowMs: number): Promise<void> {
    const tallyCutoffMinute = Math.floor(Math.min(beforeMs, nowMs - TALLY_KEEP_MS) / MINUTE_MS) - 1;
    for (const name of await this.#names()) {
      const segment = SEGMENT_PATTERN.exec(name);
      const tally = TALLY_PATTERN.exec(name);
      const expired = segment ? Number(segment[1]) + this.#segmentMs + LATE_APPEND_GRACE_MS < beforeMs : tally ? Number(tally[1]) < tallyCutoffMinute : false;
      if (expired) await unlink(join(this.#dir, name)).catch(ignoreMissing);
    }
  }

  async size(): Promise<EventLogSize> {
    let events = 0;
    let bytes = 0;
    for (const name of await this.#names()) {
      const path = join(this.#dir, name);
      bytes += (await stat(path).catch(ignoreMissing))?.size ?? 0;
      if (SEGMENT_PATTERN.test(name)) events += countNewlines((await readFile(path).catch(ignoreMissing)) ?? Buffer.alloc(0));
    }
    return { events, bytes };
  }

  async #appendTo(name: string, text: string): Promise<void> {
    const path = join(this.#dir, name);
    const handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600).catch(async (err: unknown) => {
      if (!isMissing(err)) throw err;
      await this.init(); // the directory was removed (a reset store): make it again
      return open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    });
    try {
      await handle.write(text);
    } finally {
      await handle.close();
    }
  }

  async #names(): Promise<string[]> {
    return readdir(this.#dir).catch((err: unknown) => {
      if (isMissing(err)) return [];
      throw err;
    });
  }

  /** Segment starts, oldest first. */
  async #segments(): Promise<number[]> {
    return (await this.#names())
      .map((name) => SEGMENT_PATTERN.exec(name)?.[1])
      .filter((start): start is string => start !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** The position at the end of the log: the complete length of every segment that may still grow. */
  async #endOffsets(segments: number[]): Promise<Offsets> {
    const offsets: Offsets = new Map();
    for (const start of this.#growing(segments)) offsets.set(start, await this.#completeLength(start));
    // An empty log: following starts from its first segment, whenever it comes.
    if (offsets.size === 0) offsets.set(Math.floor(Date.now() / this.#segmentMs) * this.#segmentMs - this.#segmentMs, 0);
    return offsets;
  }

  /** Segments that may still receive a batch: the newest, and any that ended within the grace. */
  #growing(segments: number[]): number[] {
    const now = Date.now();
    const newest = segments.at(-1);
    return segments.filter((start) => start === newest || start + this.#segmentMs + LATE_APPEND_GRACE_MS > now);
  }

  /** Keeps only the offsets a later read still needs (segments that may grow or were not read to the end), so a position stays small. */
  #stillNeeded(offsets: Offsets, segments: number[], unfinished: Set<number>): Offsets {
    const keep = new Set([...this.#growing(segments), ...unfinished]);
    const recent: Offsets = new Map([...offsets].filter(([start]) => keep.has(start)));
    // Never empty: the newest known offset says where reading stands.
    if (recent.size === 0) {
      const newest = Math.max(...offsets.keys());
      recent.set(newest, offsets.get(newest)!);
    }
    return recent;
  }

  /** Bytes of a segment up to and including its last newline (a batch being written is not read half). */
  async #completeLength(start: number): Promise<number> {
    const handle = await open(join(this.#dir, segmentName(start)), 'r').catch(ignoreMissing);
    if (!handle) return 0;
    try {
      let end = (await handle.stat()).size;
      const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, end));
      while (end > 0) {
        const from = Math.max(0, end - buffer.length);
        const { bytesRead } = await handle.read(buffer, 0, end - from, from);
        const newline = buffer.subarray(0, bytesRead).lastIndexOf(NEWLINE);
        if (newline !== -1) return from + newline + 1;
        end = from;
      }
      return 0;
    } finally {
      await handle.close();
    }
  }

  /** Up to `limit` complete lines from `offset` on, and the offset after the last one returned. */
  async #readLines(start: number, offset: number, limit: number): Promise<{ lines: string[]; offset: number }> {
    const handle = await open(join(this.#dir, segmentName(start)), 'r').catch(ignoreMissing);
    if (!handle) return { lines: [], offset };
    const lines: string[] = [];
    try {
      const buffer = Buffer.alloc(CHUNK_BYTES);
      let carry = Buffer.alloc(0);
      let position = offset;
      while (lines.length < limit) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position + carry.length);
        if (bytesRead === 0) break;
        const data = Buffer.concat([carry, buffer.subarray(0, bytesRead)]);
        let lineStart = 0;
        for (let newline = data.indexOf(NEWLINE); newline !== -1 && lines.length < limit; newline = data.indexOf(NEWLINE, lineStart)) {
          lines.push(data.toString('utf8', lineStart, newline));
          lineStart = newline + 1;
        }
        position += lineStart;
        carry = data.subarray(lineStart);
        if (carry.length > 16 * CHUNK_BYTES) break; // no newline for megabytes: not a log line, stop here
      }
      return { lines, offset: position };
    } finally {
      await handle.close();
    }
  }

  /** The last `limit` complete lines before `end`, newest first. */
  async #tailLines(start: number, end: number, limit: number): Promise<string[]> {
    if (limit <= 0 || end <= 0) return [];
    const handle = await open(join(this.#dir, segmentName(start)), 'r').catch(ignoreMissing);
    if (!handle) return [];
    const lines: string[] = [];
    try {
      let carry = Buffer.alloc(0);
      let from = end;
      while (from > 0 && lines.length < limit) {
        const size = Math.min(CHUNK_BYTES, from);
        from -= size;
        const chunk = Buffer.alloc(size);
        await handle.read(chunk, 0, size, from);
        const data = Buffer.concat([chunk, carry]);
        // data ends at a line end (or at `end`, which is one); split the lines after its first newline.
        let lineEnd = data.length - (data.at(-1) === NEWLINE ? 1 : 0);
        for (let newline = data.lastIndexOf(NEWLINE, lineEnd - 1); newline !== -1 && lines.length < limit; newline = data.lastIndexOf(NEWLINE, lineEnd - 1)) {
          lines.push(data.toString('utf8', newline + 1, lineEnd));
          lineEnd = newline;
        }
        carry = data.subarray(0, lineEnd);
        if (from === 0 && carry.length > 0 && lines.length < limit) lines.push(carry.toString('utf8'));
      }
      return lines;
    } finally {
      await handle.close();
    }
  }
}

function segmentName(start: number): string {
  return `seg-${start}.jsonl`;
}

function parseLine(line: string): LifecycleEvent | undefined {
  try {
    const entry = JSON.parse(line) as LifecycleEvent;
    return typeof entry?.event === 'string' && typeof entry.at === 'string' ? entry : undefined;
  } catch {
    return undefined; // a line damaged by a crash: skipped, the rest of the log stays readable
  }
}

function encodePosition(offsets: Offsets): string {
  return Buffer.from(JSON.stringify([...offsets])).toString('base64url');
}

function decodePosition(position: string): Offsets {
  try {
    const pairs = JSON.parse(Buffer.from(position, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(pairs) && pairs.length > 0 && pairs.length <= 100 &&
      pairs.every((pair) => Array.isArray(pair) && pair.length === 2 && pair.every((n) => Number.isSafeInteger(n) && n >= 0))
    ) {
      return new Map(pairs as [number, number][]);
    }
  } catch {
    // falls through to the error below
  }
  throw new InvalidCursorError();
}

function countNewlines(data: Buffer): number {
  let count = 0;
  for (let at = data.indexOf(NEWLINE); at !== -1; at = data.indexOf(NEWLINE, at + 1)) count++;
  return count;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function ignoreMissing(err: unknown): undefined {
  if (isMissing(err)) return undefined;
  throw err;
}
