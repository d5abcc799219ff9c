/**
 * The shared event log with many events in it, per store: on a fresh
 * namespace, lifecycle events are appended in batches the way the recorder
 * sends them (`log.append(batch)`, one at a time), timed; then the log's size
 * as `size()` reports it and as the backend measures each of its parts, and
 * the two reads every dashboard page load makes on the full log (the newest
 * 50, the counts of the last hour).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultOptions } from '../../middleware/config.ts';
import { type EventLog, type EventLogSize, lastHourStart } from '../../middleware/event-log/event-log.ts';
import { EVENT_LOG_DIR } from '../../middleware/event-log/file-event-log.ts';
import { eventLogTableNames } from '../../middleware/event-log/postgres-event-log.ts';
import type { DestroyedBy, LifecycleEvent } from '../../middleware/events.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import type { StoreKind } from '../../middleware/store.ts';
import type { BenchNamespace } from '../servers/harness.ts';
import { formatCount, formatFixed, formatMs, markdownTable } from './markdown.ts';
import { benchPool, benchRedis, createBenchNamespace, removeBenchNamespace } from './namespaces.ts';
import { median } from './stats.ts';
import { openStore } from './store-bench.ts';

export interface EventLogSizeSettings {
  /** Events appended (100,000). */
  events: number;
  /** Events per append: the recorder's batch (500). */
  batchSize: number;
  /** How often each dashboard read is timed (the median is reported). */
  readRepeats: number;
}

/** One part of the log as the backend measures it (a stream, a table, a set of files). */
export interface EventLogPart {
  part: string;
  measuredAs: string;
  bytes: number;
}

export interface EventLogSizeResult {
  kind: StoreKind;
  appended: number;
  appendSeconds: number;
  batches: number;
  size: EventLogSize;
  parts: EventLogPart[];
  latestMs: number;
  latestReturned: number;
  countSinceMs: number;
  /** Events the last hour's counts add up to: all of them, since every event is dated within it. */
  counted: number;
}

/** The events are dated evenly over this stretch before the run, all inside the dashboard's last hour. */
const SPREAD_MS = 55 * 60_000;

/**
 * `count` events as a busy site records them, oldest first: 45 % created, 30 % expired, 20 % destroyed
 * (mostly by the visitor), 5 % regenerated; each with a fresh public id, fields in the order
 * `SessionEvents.record` writes them.
 */
export function realisticEvents(kind: StoreKind, count: number, endMs: number): LifecycleEvent[] {
  const events: LifecycleEvent[] = [];
  const sid = () => publicIdOf(newSessionId());
  for (let i = 0; i < count; i++) {
    const at = new Date(endMs - SPREAD_MS + Math.floor((i * SPREAD_MS) / count)).toISOString();
    const slot = i % 20;
    if (slot < 9) events.push({ event: 'session.created', sid: sid(), store: kind, at });
    else if (slot < 15) events.push({ event: 'session.expired', sid: sid(), store: kind, at });
    else if (slot < 19) {
      const by: DestroyedBy = slot < 18 ? 'user' : i % 40 < 20 ? 'admin' : 'app';
      events.push({ event: 'session.destroyed', sid: sid(), by, store: kind, at });
    } else events.push({ event: 'session.regenerated', sid: sid(), previousSid: sid(), store: kind, at });
  }
  return events;
}

async function medianMs<T>(repeats: number, call: () => Promise<T>): Promise<{ ms: number; last: T }> {
  const times: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    last = await call();
    times.push(performance.now() - started);
  }
  return { ms: median(times), last: last! };
}

/** The stream (exact: every entry sampled) and the per-minute tally hashes, by MEMORY USAGE. */
async function redisParts(namespace: BenchNamespace): Promise<EventLogPart[]> {
  const client = await benchRedis();
  const stream = await client.memoryUsage(`${namespace.redisPrefix}_events`, { SAMPLES: 0 });
  let tallies = 0;
  let tallyBytes = 0;
  for await (const keys of client.scanIterator({ MATCH: `${namespace.redisPrefix}_events:*`, COUNT: 1000 })) {
    for (const key of keys) {
      tallies++;
      tallyBytes += Number((await client.memoryUsage(key)) ?? 0);
    }
  }
  return [
    { part: 'stream', measuredAs: 'MEMORY USAGE … SAMPLES 0', bytes: Number(stream ?? 0) },
    { part: `tally hashes (${tallies})`, measuredAs: 'MEMORY USAGE, summed', bytes: tallyBytes },
  ];
}

async function postgresParts(namespace: BenchNamespace): Promise<EventLogPart[]> {
  const { log, tally } = eventLogTableNames(namespace.pgTable);
  const { rows } = await benchPool().query<{ log: string; tally: string }>(
    'SELECT pg_total_relation_size($1::regclass) AS log, pg_total_relation_size($2::regclass) AS tally',
    [`"${log}"`, `"${tally}"`],
  );
  return [
    { part: 'log table (rows, primary key, index on at_ms)', measuredAs: 'pg_total_relation_size', bytes: Number(rows[0]!.log) },
    { part: 'tally table', measuredAs: 'pg_total_relation_size', bytes: Number(rows[0]!.tally) },
  ];
}

/** Segments and tally files: the sum of their sizes, and the blocks allocated for them (what `du` counts). */
async function fileParts(namespace: BenchNamespace): Promise<EventLogPart[]> {
  const dir = join(namespace.fileDir, EVENT_LOG_DIR);
  const sums = { segments: { files: 0, bytes: 0, allocated: 0 }, tallies: { files: 0, bytes: 0, allocated: 0 } };
  for (const name of await readdir(dir)) {
    const info = await stat(join(dir, name));
    const sum = name.startsWith('seg-') ? sums.segments : sums.tallies;
    sum.files++;
    sum.bytes += info.size;
    sum.allocated += info.blocks * 512;
  }
  return Object.entries(sums).map(([part, sum]) => ({
    part: `${part} (${sum.files} file${sum.files === 1 ? '' : 's'})`,
    measuredAs: `sum of file sizes (${formatCount(sum.allocated)} B allocated)`,
    bytes: sum.bytes,
  }));
}

const PARTS: Record<StoreKind, (namespace: BenchNamespace) => Promise<EventLogPart[]>> = {
  redis: redisParts,
  postgres: postgresParts,
  file: fileParts,
};

export async function runEventLogSize(kind: StoreKind, settings: EventLogSizeSettings, progress: (line: string) => void): Promise<EventLogSizeResult> {
  const namespace = await createBenchNamespace();
  const store = openStore(kind, namespace);
  try {
    await store.init();
    const log: EventLog = store.openEventLog!(defaultOptions().eventsRetentionMs);
    await log.init();
    const events = realisticEvents(kind, settings.events, Date.now());
    let batches = 0;
    const started = performance.now();
    for (let from = 0; from < events.length; from += settings.batchSize) {
      await log.append(events.slice(from, from + settings.batchSize));
      batches++;
    }
    const appendSeconds = (performance.now() - started) / 1000;
    progress(`${kind}: ${formatCount(events.length)} events appended in ${appendSeconds.toFixed(2)} s`);
    const size = await log.size();
    const parts = await PARTS[kind](namespace);
    const latest = await medianMs(settings.readRepeats, () => log.latest(50));
    const counts = await medianMs(settings.readRepeats, () => log.countSince(lastHourStart(Date.now())));
    const counted = Object.values(counts.last).reduce((sum, n) => sum + (n ?? 0), 0);
    return { kind, appended: events.length, appendSeconds, batches, size, parts, latestMs: latest.ms, latestReturned: latest.last.events.length, countSinceMs: counts.ms, counted };
  } finally {
    await store.close();
    await removeBenchNamespace(namespace);
  }
}

const MB = 1024 * 1024;

export function eventLogTables(results: readonly EventLogSizeResult[], settings: EventLogSizeSettings): string {
  const events = formatCount(settings.events);
  const summary = markdownTable(
    ['store', `append ${events} (s)`, 'ms per batch', 'events held', 'size() (MB)', 'bytes per event', 'latest(50) (ms)', 'countSince(last hour) (ms)', 'counted'],
    results.map((r) => [
      r.kind,
      formatFixed(r.appendSeconds, 2),
      formatMs((r.appendSeconds * 1000) / r.batches),
      formatCount(r.size.events),
      formatFixed(r.size.bytes / MB, 1),
      formatCount(r.size.bytes / r.appended),
      formatMs(r.latestMs),
      formatMs(r.countSinceMs),
      formatCount(r.counted),
    ]),
  );
  const parts = markdownTable(
    ['store', 'part', 'measured as', 'bytes', 'bytes per event'],
    results.flatMap((r) => r.parts.map((p) => [r.kind, p.part, p.measuredAs, formatCount(p.bytes), formatFixed(p.bytes / r.appended, 1)])),
    3,
  );
  return [
    `### Event log: ${events} lifecycle events appended in batches of ${settings.batchSize} (reads: median of ${settings.readRepeats})\n\n${summary}`,
    `### Event log: where its bytes are, after ${events} events\n\n${parts}`,
  ].join('\n\n');
}
