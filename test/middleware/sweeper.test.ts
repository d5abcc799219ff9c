import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Koa from 'koa';
import { createClient } from 'redis';
import { EVENT_LOG_DIR } from '../../middleware/event-log/file-event-log.ts';
import { createSessionkeeper } from '../../middleware/sessionkeeper.ts';
import { publicIdOf, newSessionId } from '../../middleware/ids.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { FaultyFileStore } from '../helpers/failing-stores.ts';
import { captureLogs, silentLogger } from '../helpers/log-capture.ts';
import { STORE_KINDS, createNamespace, TEST_REDIS_URL, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { testSessionOptions } from '../helpers/test-settings.ts';

const silent = silentLogger();

/**
 * Puts events in a namespace's shared log as if they had been appended at their `at`, long ago: the file store
 * and Redis keep events by the time they were appended (a segment file, a stream id), PostgreSQL by `at`.
 */
async function appendLongAgo(namespace: StoreNamespace, events: LifecycleEvent[]): Promise<void> {
  const atMs = Date.parse(events[0]!.at);
  switch (namespace.kind) {
    case 'file': {
      const segmentMs = 60_000; // a minute: the shortest segment, that of retentions up to 24 minutes
      const dir = join(namespace.env.SESSION_FILE_DIR!, EVENT_LOG_DIR);
      await mkdir(dir, { recursive: true });
      await appendFile(join(dir, `seg-${Math.floor(atMs / segmentMs) * segmentMs}.jsonl`), events.map((e) => `${JSON.stringify(e)}\n`).join(''));
      return;
    }
    case 'redis': {
      const client = createClient({ url: TEST_REDIS_URL });
      await client.connect();
      try {
        for (const [i, e] of events.entries()) await client.xAdd(`${namespace.env.SESSION_REDIS_PREFIX}_events`, `${atMs}-${i + 1}`, { j: JSON.stringify(e) });
      } finally {
        await client.close();
      }
      return;
    }
    case 'postgres': {
      const store = namespace.open();
      try {
        await store.openEventLog!(60_000).append(events);
      } finally {
        await store.close();
      }
    }
  }
}

for (const kind of STORE_KINDS) {
  describe(`sweeping the ${kind} store from several processes`, () => {
    test('three sweepers on one store log each expiry exactly once between them', async () => {
      const namespace = await createNamespace(kind);
      const keepers = await Promise.all(
        [1, 2, 3].map(() => createSessionkeeper(new Koa(), testSessionOptions(namespace), { logger: silent, store: namespace.open() })),
      );
      try {
        const expired: string[] = [];
        for (const keeper of keepers) keeper.events.on('session.expired', (e: LifecycleEvent) => expired.push(e.sid!));
        const now = Date.now();
        const ids = Array.from({ length: 60 }, () => publicIdOf(newSessionId()));
        await Promise.all(ids.map((id) => keepers[0]!.store.create(id, { data: { id }, createdAt: now - 9_000, lastSeenAt: now - 9_000, expiresAt: now - 1_000 })));
        const live = publicIdOf(newSessionId());
        await keepers[0]!.store.create(live, { data: {}, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 });

        const reports = await Promise.all(keepers.map((keeper) => keeper.sweeper.sweepNow()));
        assert.equal(reports.reduce((sum, r) => sum + r.expired, 0), 60);
        assert.equal(expired.length, 60, 'no expiry logged twice');
        assert.deepEqual([...expired].sort(), [...ids].sort());
        assert.ok(await keepers[2]!.store.get(live, Date.now()), 'live sessions are left alone');
      } finally {
        await Promise.all(keepers.map((keeper) => keeper.close()));
        await namespace.remove();
      }
    });

    test('every sweep holds the shared event log to SESSION_EVENTS_RETENTION, and the last hour\'s counters stay', async () => {
      const namespace = await createNamespace(kind);
      const retentionMs = 60_000;
      const keeper = await createSessionkeeper(new Koa(), testSessionOptions(namespace, { eventsRetentionMs: retentionMs }), { logger: silent, store: namespace.open() });
      try {
        const now = Date.now();
        // Two hours of segments on the file store: old events sit in segments wholly past the bound.
        const old = Array.from({ length: 5 }, (_, i) => ({
          event: 'session.created' as const, sid: publicIdOf(newSessionId()), store: kind, at: new Date(now - 2 * 3_600_000 + i).toISOString(),
        }));
        const recent = { event: 'session.expired' as const, sid: publicIdOf(newSessionId()), store: kind, at: new Date(now - 10 * 60_000).toISOString() };
        const fresh = { event: 'session.destroyed' as const, sid: publicIdOf(newSessionId()), store: kind, at: new Date(now).toISOString(), by: 'user' as const };
        // Appended two hours ago, as each backend would have kept them then; then the last hour's events now.
        await appendLongAgo(namespace, old);
        await keeper.eventLog.append([recent, fresh]);
        const before = await keeper.eventLog.size();
        assert.equal(before.events, 7);
        assert.deepEqual((await keeper.eventLog.latest(10)).events.map((e) => e.sid), [fresh.sid], 'reads never return events past retention');

        await keeper.sweeper.sweepNow();
        // `recent` was appended now with a time ten minutes ago: PostgreSQL trims by the event's time, so it goes
        // there; the file store and Redis trim by when events were appended, so it stays (and is never read).
        assert.equal((await keeper.eventLog.size()).events, kind === 'postgres' ? 1 : 2, 'the sweep removed the events past retention');
        assert.deepEqual((await keeper.eventLog.latest(10)).events.map((e) => e.sid), [fresh.sid]);
        const counts = await keeper.eventLog.countSince(now - 3_600_000);
        assert.equal(counts['session.expired'], 1, 'an event of the last hour is still counted');
        assert.equal(counts['session.destroyed'], 1);
        assert.equal(counts['session.created'], undefined, 'events older than the hour and the retention are not');
      } finally {
        await keeper.close();
        await namespace.remove();
      }
    });

    test('the interval sweeper runs by itself and stops on close', async () => {
      const namespace = await createNamespace(kind);
      const keeper = await createSessionkeeper(new Koa(), testSessionOptions(namespace, { sweepIntervalMs: 1_000 }), { logger: silent, store: namespace.open() });
      try {
        const now = Date.now();
        const id = publicIdOf(newSessionId());
        const seen = new Promise<LifecycleEvent>((resolve) => keeper.events.once('session.expired', resolve));
        await keeper.store.create(id, { data: {}, createdAt: now - 5_000, lastSeenAt: now - 5_000, expiresAt: now - 1_000 });
        // The sweeper's timer is unref'd: this ref'd timeout keeps the test process alive and bounds the wait.
        const bound = new AbortController();
        const timedOut = sleep(5_000, undefined, { signal: bound.signal }).then(() => assert.fail('the sweeper did not run within 5 s'));
        timedOut.catch(() => undefined);
        assert.equal((await Promise.race([seen, timedOut])).sid, id);
        bound.abort();
      } finally {
        await keeper.close();
        await namespace.remove();
      }
    });
  });
}

describe('lifecycle event listeners', () => {
  test('a listener that throws loses no expiry log and stops no sweep', async () => {
    const namespace = await createNamespace('file');
    const logs = captureLogs('info');
    const keeper = await createSessionkeeper(new Koa(), testSessionOptions(namespace), { logger: logs.logger, store: namespace.open() });
    try {
      const seen: string[] = [];
      keeper.events.on('session.expired', () => {
        throw new Error('listener bug');
      });
      keeper.events.once('session.expired', (e: LifecycleEvent) => seen.push(`once:${e.sid}`));
      keeper.events.on('event', (e: LifecycleEvent) => seen.push(e.sid!));
      const now = Date.now();
      const ids = Array.from({ length: 5 }, () => publicIdOf(newSessionId()));
      for (const id of ids) await keeper.store.create(id, { data: {}, createdAt: now - 9_000, lastSeenAt: now - 9_000, expiresAt: now - 1_000 });
      assert.deepEqual(await keeper.sweeper.sweepNow(), { expired: 5, evicted: 0 });
      assert.equal(seen.filter((s) => !s.startsWith('once:')).length, 5, 'the other listeners got every event');
      assert.equal(seen.filter((s) => s.startsWith('once:')).length, 1, 'a once-listener still runs once');
      assert.equal(logs.lines().filter((line) => line.msg === 'session.expired').length, 5, 'every expiry logged');
      assert.equal(logs.lines().filter((line) => line.msg === 'a lifecycle event listener threw').length, 5);
    } finally {
      await keeper.close();
      await namespace.remove();
    }
  });
});


describe('a slow store', () => {
  test('a purge slower than the store timeout still logs every session it removed', async () => {
    const namespace = await createNamespace('file');
    // Purges answer 300 ms late, beyond the 100 ms store timeout: the sessions are gone when the answer comes.
    const slow = new FaultyFileStore({ dir: namespace.settings.fileDir! });
    slow.purgeDelayMs = 300;
    const keeper = await createSessionkeeper(new Koa(), testSessionOptions(namespace), { logger: silent, store: slow, storeTimeoutMs: 100 });
    try {
      const expired: string[] = [];
      keeper.events.on('session.expired', (e: LifecycleEvent) => expired.push(e.sid!));
      const now = Date.now();
      const ids = Array.from({ length: 3 }, () => publicIdOf(newSessionId()));
      for (const id of ids) await keeper.store.create(id, { data: {}, createdAt: now - 9_000, lastSeenAt: now - 9_000, expiresAt: now - 1_000 });
      assert.deepEqual(await keeper.sweeper.sweepNow(), { expired: 3, evicted: 0 });
      assert.deepEqual([...expired].sort(), [...ids].sort());
    } finally {
      await keeper.close();
      await namespace.remove();
    }
  });
});
