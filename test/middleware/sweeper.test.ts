import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import Koa from 'koa';
import { createSessionkeeper } from '../../middleware/sessionkeeper.ts';
import { publicIdOf, newSessionId } from '../../middleware/ids.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { FaultyFileStore } from '../helpers/failing-stores.ts';
import { captureLogs, silentLogger } from '../helpers/log-capture.ts';
import { STORE_KINDS, createNamespace } from '../helpers/store-fixtures.ts';
import { testSessionOptions } from '../helpers/test-settings.ts';

const silent = silentLogger();

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
