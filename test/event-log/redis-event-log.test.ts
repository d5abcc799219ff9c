/**
 * What only the Redis event log must prove: its keys live under the store's
 * prefix (so removing the prefix removes them), the stream caps itself as it
 * grows, tally hashes expire on time. The shared behaviour is the conformance
 * suite's, run at the end.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { InvalidCursorError } from '../../middleware/cursor.ts';
import { type EventLog, MINUTE_MS, minuteOf, TALLY_KEEP_MS } from '../../middleware/event-log/event-log.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { runEventLogConformance, storeEventLogFixture } from '../conformance/event-log-suite.ts';
import { createNamespace, type StoreNamespace, TEST_REDIS_URL } from '../helpers/store-fixtures.ts';

const admin = createClient({ url: TEST_REDIS_URL });
await admin.connect();
after(() => admin.close());

let eventCount = 0;
const event = (atMs = Date.now()): LifecycleEvent => ({ event: 'session.created', sid: `sid-${++eventCount}`, store: 'redis', at: new Date(atMs).toISOString() });

async function keysMatching(pattern: string): Promise<string[]> {
  const found: string[] = [];
  for await (const keys of admin.scanIterator({ MATCH: pattern, COUNT: 1000 })) found.push(...keys);
  return found.sort();
}

/** A store on a fresh prefix and its log; the namespace is removed and the store closed after `run`. */
async function withLog(retentionMs: number, run: (log: EventLog, prefix: string, store: SessionStore, namespace: StoreNamespace) => Promise<void>): Promise<void> {
  const namespace = await createNamespace('redis');
  const store = namespace.open();
  try {
    await store.init();
    await run(store.openEventLog!(retentionMs), namespace.env.SESSION_REDIS_PREFIX!, store, namespace);
  } finally {
    await store.close();
    await namespace.remove();
  }
}

test('keys live under the store prefix only (a stream and a hash per minute, in the stream\'s cluster slot), and removing the prefix removes them', async () => {
  await withLog(TALLY_KEEP_MS, async (log, prefix, _store, namespace) => {
    const now = Date.now();
    const events = [event(now - 3 * MINUTE_MS), event(now)];
    await log.append(events);
    // The prefix is unique to this test: any key naming it elsewhere would be a key outside it.
    const unique = prefix.split(':')[1]!;
    const expected = [`${prefix}_events`, ...events.map(({ at }) => `${prefix}_events:{${prefix}_events}:${minuteOf(at)}`)].sort();
    assert.deepEqual(await keysMatching(`*${unique}*`), expected);
    const entries = await admin.xRange(`${prefix}_events`, '-', '+');
    assert.deepEqual(entries.map(({ message }) => ({ ...message })), events.map((entry) => ({ j: JSON.stringify(entry) })), 'one field, the JSON');
    await namespace.remove();
    assert.deepEqual(await keysMatching(`*${unique}*`), []);
  });
});

test('a tally hash expires a minute after its minute plus the longer of the retention and the counters\' hour', async () => {
  for (const retentionMs of [1_000, 3 * TALLY_KEEP_MS]) {
    await withLog(retentionMs, async (log, prefix) => {
      const at = Date.now() - 2 * MINUTE_MS;
      await log.append([event(at)]);
      const minute = Math.floor(at / MINUTE_MS);
      const expected = (minute + 1) * MINUTE_MS + Math.max(retentionMs, TALLY_KEEP_MS) + MINUTE_MS;
      assert.equal(await admin.pExpireTime(`${prefix}_events:{${prefix}_events}:${minute}`), expected, `retention ${retentionMs} ms`);
    });
  }
});

test('appends cap the stream by age, whole nodes at a time, before any trim; trim is exact', async () => {
  const retentionMs = 1_000;
  await withLog(retentionMs, async (log, prefix) => {
    for (let i = 0; i < 6; i++) await log.append(Array.from({ length: 50 }, () => event()));
    const key = `${prefix}_events`;
    assert.equal(await admin.xLen(key), 300);
    await sleep(retentionMs + 100);
    await log.append([event()]);
    const nodeEntries = Number((await admin.configGet('stream-node-max-entries'))['stream-node-max-entries']);
    // Only the node the new entry joined may still hold old entries.
    const held = await admin.xLen(key);
    assert.ok(held <= nodeEntries + 1 && held < 301, `${held} entries held`);
    await log.trim(Date.now() - retentionMs, Date.now());
    assert.equal(await admin.xLen(key), 1);
  });
});

test('a namespaced store keeps a log of its own, under its own prefix', async () => {
  await withLog(TALLY_KEEP_MS, async (log, prefix, store) => {
    const own = store.withNamespace('admin').openEventLog!(TALLY_KEEP_MS);
    const appended = event();
    await own.append([appended]);
    assert.deepEqual((await own.latest(10)).events, [appended]);
    assert.deepEqual((await log.latest(10)).events, []);
    assert.equal(await admin.xLen(`${prefix}admin:_events`), 1);
  });
});

test('positions are stream ids: the greatest one there can be has nothing after it, one past it is refused', async () => {
  await withLog(TALLY_KEEP_MS, async (log) => {
    await log.append([event()]);
    const last = '18446744073709551615-18446744073709551615';
    assert.deepEqual(await log.readAfter(last, 10), { events: [], position: last });
    await assert.rejects(log.readAfter('18446744073709551616-0', 10), InvalidCursorError);
    assert.match((await log.latest(0)).position, /^\d+-\d+$/);
  });
});

test('an empty stream ends at 0-0, which reads from the start', async () => {
  await withLog(TALLY_KEEP_MS, async (log) => {
    assert.deepEqual(await log.latest(5), { events: [], position: '0-0' });
    const appended = event();
    await log.append([appended]);
    assert.deepEqual((await log.readAfter('0-0', 5)).events, [appended]);
  });
});

runEventLogConformance('redis', storeEventLogFixture('redis'));
