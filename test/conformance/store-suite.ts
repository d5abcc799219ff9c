/**
 * The one conformance suite every store passes, run against the real Redis,
 * the real PostgreSQL and a real directory. A behaviour one store passes and
 * another fails is a bug, found here.
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { InvalidCursorError } from '../../middleware/cursor.ts';
import { runOwnerConformance } from './owner-suite.ts';
import { dataSizeBytes, type ListSort, type SessionRecord, type SessionStore, type SessionSummary } from '../../middleware/store.ts';

/** A store on a fresh namespace, plus a way to open more stores on the same namespace (other processes). */
export interface StoreFixture {
  store: SessionStore;
  /** Another store instance over the same data, as a second server process would have. */
  openPeer(): Promise<SessionStore>;
  /** Removes the namespace and closes what the fixture opened. */
  cleanup(): Promise<void>;
}

const MINUTE = 60_000;

function record(now: number, data: Record<string, unknown> = { user: 'ada' }, expiresInMs = 30 * MINUTE): SessionRecord {
  return { data, createdAt: now, lastSeenAt: now, expiresAt: now + expiresInMs };
}

const newId = () => publicIdOf(newSessionId());

/** Reads every page of a listing and returns the ids in order. */
async function listAll(store: SessionStore, sort: ListSort, limit: number, now: number): Promise<SessionSummary[]> {
  const all: SessionSummary[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await store.list({ limit, cursor, sort, now });
    assert.ok(page.sessions.length <= limit, 'a page never exceeds its limit');
    all.push(...page.sessions);
    if (page.nextCursor === null) return all;
    cursor = page.nextCursor;
  }
  throw new Error('listing did not end');
}

export function runStoreConformance(name: string, makeFixture: () => Promise<StoreFixture>): void {
  runOwnerConformance(name, makeFixture);
  describe(`${name} store conformance`, () => {
    let fixture: StoreFixture;
    let store: SessionStore;
    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
      await store.init();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    test('answers ping', async () => {
      await store.ping();
    });

    test('round-trips a session with its times and unicode data', async () => {
      const now = Date.now();
      const id = newId();
      const data = { lines: ['héllo', '<script>', '  indented', ''], n: 42, nested: { ok: true } };
      await store.create(id, record(now, data));
      assert.deepEqual(await store.get(id, now), record(now, data));
    });

    test('data comes back exactly as written: unicode, nesting, numbers, key order, and what jsonb would refuse or reorder', async () => {
      const now = Date.now();
      const id = newId();
      const data = {
        zeta: 'nul\u0000byte',
        a: 'lone \ud800 surrogate',
        mid: [1, 0.1, 1e21, -2.5e-7, Number.MAX_SAFE_INTEGER],
        text: 'héllo 👋 ✓ \u2028 "quoted" \\ back',
        nested: { deeper: { list: [{}, [], null, true, ''] } },
      };
      await store.create(id, record(now, data));
      const stored = await store.get(id, now);
      assert.equal(JSON.stringify(stored?.data), JSON.stringify(data));
      const page = await store.list({ limit: 5, sort: 'expiry', now });
      assert.deepEqual(page.sessions[0]?.keys, ['zeta', 'a', 'mid', 'text', 'nested']);
    });

    test('returns undefined for an unknown id', async () => {
      assert.equal(await store.get(newId(), Date.now()), undefined);
    });

    test('never returns a session at or after its expiry, even before it is swept', async () => {
      const now = Date.now();
      const id = newId();
      await store.create(id, record(now, { a: 1 }, 5_000));
      assert.ok(await store.get(id, now + 4_999));
      assert.equal(await store.get(id, now + 5_000), undefined);
      assert.equal(await store.get(id, now + 60_000), undefined);
    });

    test('create replaces a session with the same id', async () => {
      const now = Date.now();
      const id = newId();
      await store.create(id, record(now, { v: 1 }));
      await store.create(id, record(now, { v: 2 }));
      assert.deepEqual((await store.get(id, now))?.data, { v: 2 });
    });

    test('insert stores a session only where the id is free, and keeps what holds it (live or expired)', async () => {
      const now = Date.now();
      const id = newId();
      const first = record(now - 1000, { v: 1 });
      assert.equal(await store.insert(id, first), true);
      assert.deepEqual(await store.get(id, now), first, 'times and data as given');
      assert.equal(await store.insert(id, record(now, { v: 2 })), false);
      assert.deepEqual((await store.get(id, now))?.data, { v: 1 }, 'the first stays');
      const expired = newId();
      await store.create(expired, record(now - 5_000, { old: true }, 1_000));
      assert.equal(await store.insert(expired, record(now, { v: 3 })), false, 'an expired session not yet swept still holds its id');
      assert.deepEqual(await store.list({ limit: 10, sort: 'expiry', now }).then((page) => page.sessions.map((s) => s.id)), [id], 'indexed like a created session');
    });

    test('of two processes inserting one id at once, exactly one succeeds', async () => {
      const peer = await fixture.openPeer();
      await peer.init();
      try {
        const now = Date.now();
        for (let round = 0; round < 10; round++) {
          const id = newId();
          const results = await Promise.all([store.insert(id, record(now, { by: 'a' })), peer.insert(id, record(now, { by: 'b' })), store.insert(id, record(now, { by: 'c' }))]);
          assert.equal(results.filter(Boolean).length, 1, 'one winner');
          const winner = ['a', 'b', 'c'][results.indexOf(true)];
          assert.deepEqual((await store.get(id, now))?.data, { by: winner }, 'and its copy is the one stored');
        }
      } finally {
        await peer.close();
      }
    });

    test('update rewrites a live session', async () => {
      const now = Date.now();
      const id = newId();
      await store.create(id, record(now, { v: 1 }));
      const next = { data: { v: 2, extra: 'x' }, createdAt: now, lastSeenAt: now + 10, expiresAt: now + 40 * MINUTE };
      assert.equal(await store.update(id, next, now + 10), true);
      assert.deepEqual(await store.get(id, now + 10), next);
    });

    test('update never brings back a destroyed session', async () => {
      const now = Date.now();
      const id = newId();
      await store.create(id, record(now));
      assert.equal(await store.destroy(id), true);
      assert.equal(await store.update(id, record(now, { back: true }), now), false);
      assert.equal(await store.get(id, now), undefined);
      assert.equal(await store.count(now), 0);
    });

    test('update never brings back an expired session', async () => {
      const now = Date.now();
      const id = newId();
      await store.create(id, record(now, { v: 1 }, 1_000));
      assert.equal(await store.update(id, record(now + 2_000, { v: 2 }), now + 2_000), false);
      assert.equal(await store.get(id, now + 2_000), undefined);
    });

    test('get with a lifetime rolls the session forward in the same step', async () => {
      const now = Date.now();
      const id = newId();
      await store.create(id, record(now, { keep: 'me' }, 5_000));
      const lifetime = { idleTtlMs: 10_000, absoluteTtlMs: 12_000 };
      const rolled = await store.get(id, now + 1_000, lifetime);
      assert.deepEqual(rolled, { data: { keep: 'me' }, createdAt: now, lastSeenAt: now + 1_000, expiresAt: now + 11_000 });
      assert.deepEqual(await store.get(id, now + 1_000), rolled, 'stored as returned');
      // The absolute limit caps the idle one.
      assert.equal((await store.get(id, now + 4_000, lifetime))?.expiresAt, now + 12_000);
      const page = await store.list({ limit: 5, sort: 'activity', now: now + 4_000 });
      assert.equal(page.sessions[0]?.lastSeenAt, now + 4_000, 'the activity index follows');
    });

    test('get with touchAfterMs rolls only a session last rolled that long ago or more; otherwise it reads and writes nothing', async () => {
      const now = Date.now();
      const id = newId();
      await store.create(id, record(now, { keep: 'me' }, 5_000));
      const rolling = { idleTtlMs: 10_000, absoluteTtlMs: 0, touchAfterMs: 2_000 };
      const stored = await store.get(id, now);
      const notDue = await store.get(id, now + 1_999, rolling);
      assert.deepEqual(notDue, stored, 'returned as stored, times unchanged');
      assert.deepEqual(await store.get(id, now + 1_999), stored, 'nothing written');
      const page = await store.list({ limit: 5, sort: 'activity', now: now + 1_999 });
      assert.equal(page.sessions[0]?.lastSeenAt, now, 'the activity index untouched');
      const due = await store.get(id, now + 2_000, rolling);
      assert.deepEqual(due, { data: { keep: 'me' }, createdAt: now, lastSeenAt: now + 2_000, expiresAt: now + 12_000 }, 'due at exactly touchAfterMs');
      assert.deepEqual(await store.get(id, now + 2_000), due, 'stored as returned');
      assert.deepEqual(await store.get(id, now + 3_000, rolling), due, 'the window starts again from the roll');
      assert.equal(await store.get(id, now + 12_000, rolling), undefined, 'an expired session is neither returned nor rolled');
    });

    test('get with a lifetime never brings back a destroyed or expired session', async () => {
      const now = Date.now();
      const destroyed = newId();
      const expired = newId();
      await store.create(destroyed, record(now));
      await store.create(expired, record(now, {}, 1_000));
      await store.destroy(destroyed);
      const lifetime = { idleTtlMs: 60_000, absoluteTtlMs: 0 };
      assert.equal(await store.get(destroyed, now, lifetime), undefined);
      assert.equal(await store.get(expired, now + 2_000, lifetime), undefined);
      assert.equal(await store.get(destroyed, now), undefined);
      assert.equal(await store.get(expired, now + 2_000), undefined);
      assert.equal(await store.count(now + 2_000), 0);
    });

    test('destroy reports whether it removed the session', async () => {
      const now = Date.now();
      const id = newId();
      await store.create(id, record(now));
      assert.equal(await store.destroy(id), true);
      assert.equal(await store.destroy(id), false);
      assert.equal(await store.get(id, now), undefined);
    });

    test('count includes live sessions only', async () => {
      const now = Date.now();
      for (let i = 0; i < 4; i++) await store.create(newId(), record(now));
      for (let i = 0; i < 3; i++) await store.create(newId(), record(now - 2_000, {}, 1_000));
      assert.equal(await store.count(now), 4);
    });

    test('summaries give times, size and key names, never values', async () => {
      const now = Date.now();
      const id = newId();
      const data = { lines: ['secret value'], uploadedAt: 'x' };
      await store.create(id, record(now, data));
      const page = await store.list({ limit: 10, sort: 'expiry', now });
      assert.equal(page.nextCursor, null);
      assert.deepEqual(page.sessions, [
        { id, createdAt: now, lastSeenAt: now, expiresAt: now + 30 * MINUTE, sizeBytes: dataSizeBytes(data), keys: ['lines', 'uploadedAt'] },
      ]);
      assert.ok(!JSON.stringify(page).includes('secret value'));
    });

    for (const sort of ['expiry', 'activity'] as const) {
      test(`lists every live session once, in ${sort} order, across pages with tied times`, async () => {
        const now = Date.now();
        const live: { id: string; score: number }[] = [];
        for (let i = 0; i < 23; i++) {
          const id = newId();
          // Groups of four share a timestamp, so pages must break ties by id.
          const t = now - 10 * MINUTE + Math.floor(i / 4) * 1_000;
          const rec = { data: { i }, createdAt: t, lastSeenAt: t, expiresAt: t + 30 * MINUTE };
          await store.create(id, rec);
          live.push({ id, score: sort === 'expiry' ? rec.expiresAt : rec.lastSeenAt });
        }
        for (let i = 0; i < 3; i++) await store.create(newId(), record(now - 5_000, { expired: i }, 1_000));

        const listed = await listAll(store, sort, 5, now);
        const ids = listed.map((s) => s.id);
        assert.equal(new Set(ids).size, ids.length, 'no session repeats');
        assert.deepEqual([...ids].sort(), live.map((s) => s.id).sort(), 'no live session is missing, no expired one listed');
        const scores = listed.map((s) => (sort === 'expiry' ? s.expiresAt : s.lastSeenAt));
        const ordered = [...scores].sort((a, b) => (sort === 'expiry' ? a - b : b - a));
        assert.deepEqual(scores, ordered);
      });
    }

    test('a page continues after its cursor even when the last listed session was destroyed meanwhile', async () => {
      const now = Date.now();
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const id = newId();
        ids.push(id);
        await store.create(id, record(now - i * 1_000, { i }));
      }
      const first = await store.list({ limit: 3, sort: 'activity', now });
      assert.ok(first.nextCursor);
      await store.destroy(first.sessions.at(-1)!.id);
      const second = await store.list({ limit: 3, cursor: first.nextCursor, sort: 'activity', now });
      assert.deepEqual(second.sessions.map((s) => s.id), ids.slice(3));
    });

    test('a page continues among tied scores even after its cursor session is destroyed', async () => {
      const now = Date.now();
      const ids = Array.from({ length: 9 }, () => newId());
      for (const id of ids) await store.create(id, record(now));
      for (const sort of ['expiry', 'activity'] as const) {
        // Every session has the same times: ties go by id, in the direction of the sort.
        const ordered = [...ids].sort();
        if (sort === 'activity') ordered.reverse();
        const first = await store.list({ limit: 3, sort, now });
        assert.deepEqual(first.sessions.map((s) => s.id), ordered.slice(0, 3));
        await store.destroy(ordered[2]!);
        const second = await store.list({ limit: 3, sort, now, cursor: first.nextCursor! });
        assert.deepEqual(second.sessions.map((s) => s.id), ordered.slice(3, 6));
        await store.create(ordered[2]!, record(now));
      }
    });

    test('an empty store lists nothing', async () => {
      assert.deepEqual(await store.list({ limit: 5, sort: 'activity', now: Date.now() }), { sessions: [], nextCursor: null });
    });

    test('a forged cursor is refused with InvalidCursorError', async () => {
      for (const cursor of ['garbage!', 'Zm9v', Buffer.from("1:x' OR 1=1").toString('base64url'), 'x'.repeat(5000)]) {
        await assert.rejects(store.list({ limit: 5, cursor, sort: 'expiry', now: Date.now() }), InvalidCursorError);
      }
    });

    test('purgeExpired removes expired sessions in bounded batches and leaves live ones', async () => {
      const now = Date.now();
      const expired = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const id = newId();
        expired.add(id);
        await store.create(id, record(now - 5_000, { i }, 1_000));
      }
      const live: string[] = [];
      for (let i = 0; i < 3; i++) {
        const id = newId();
        live.push(id);
        await store.create(id, record(now));
      }
      const removed: string[] = [];
      for (let round = 0; round < 10; round++) {
        const batch = await store.purgeExpired(now, 2);
        assert.ok(batch.length <= 2, 'a batch never exceeds its size');
        if (batch.length === 0) break;
        removed.push(...batch.map((session) => session.id));
      }
      assert.deepEqual(removed.sort(), [...expired].sort());
      for (const id of live) assert.ok(await store.get(id, now));
      assert.equal(await store.count(now), 3);
    });

    test('two processes purging at once report each expired session exactly once', async () => {
      const peer = await fixture.openPeer();
      await peer.init();
      try {
        const now = Date.now();
        const expired: string[] = [];
        for (let i = 0; i < 40; i++) {
          const id = newId();
          expired.push(id);
          await store.create(id, record(now - 5_000, { i }, 1_000));
        }
        const drain = async (s: SessionStore) => {
          const got: string[] = [];
          for (;;) {
            const batch = await s.purgeExpired(now, 7);
            if (batch.length === 0) return got;
            got.push(...batch.map((session) => session.id));
          }
        };
        const [a, b] = await Promise.all([drain(store), drain(peer)]);
        assert.equal(a.filter((id) => b.includes(id)).length, 0, 'no id reported by both');
        assert.deepEqual([...a, ...b].sort(), [...expired].sort());
      } finally {
        await peer.close();
      }
    });

    test('a peer process sees the same sessions', async () => {
      const peer = await fixture.openPeer();
      await peer.init();
      try {
        const now = Date.now();
        const id = newId();
        await store.create(id, record(now, { shared: true }));
        assert.deepEqual((await peer.get(id, now))?.data, { shared: true });
        assert.equal(await peer.destroy(id), true);
        assert.equal(await store.get(id, now), undefined);
      } finally {
        await peer.close();
      }
    });

    test('evictBeyond removes the live sessions closest to expiry, down to the cap, in batches', async () => {
      const now = Date.now();
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const id = newId();
        ids.push(id);
        await store.create(id, record(now, { i }, (i + 1) * MINUTE));
      }
      await store.create(newId(), record(now - 5_000, { expired: true }, 1_000)); // expired: neither counted nor evicted
      assert.deepEqual(await store.evictBeyond(3, now, 2), [{ id: ids[0] }, { id: ids[1] }]);
      assert.deepEqual(await store.evictBeyond(3, now, 2), [{ id: ids[2] }]);
      assert.deepEqual(await store.evictBeyond(3, now, 2), []);
      assert.equal(await store.count(now), 3);
      assert.equal(await store.get(ids[2]!, now), undefined);
      assert.ok(await store.get(ids[3]!, now));
      assert.equal((await store.purgeExpired(now, 10)).length, 1, 'the expired session is left to the purge');
    });

    test('three processes evicting at once never evict more than the excess', async () => {
      const peers = [await fixture.openPeer(), await fixture.openPeer()];
      for (const peer of peers) await peer.init();
      try {
        const now = Date.now();
        for (let i = 0; i < 30; i++) await store.create(newId(), record(now, { i }, (i + 1) * MINUTE));
        const drain = async (s: SessionStore) => {
          const got: string[] = [];
          for (;;) {
            const batch = await s.evictBeyond(20, now, 3);
            if (batch.length === 0) return got;
            got.push(...batch.map((session) => session.id));
          }
        };
        const evicted = (await Promise.all([store, ...peers].map(drain))).flat();
        assert.equal(evicted.length, 10);
        assert.equal(new Set(evicted).size, 10);
        assert.equal(await store.count(now), 20);
      } finally {
        for (const peer of peers) await peer.close();
      }
    });

    const rule = { windowMs: 60_000, limit: 3, holdMs: 600_000 };

    test('increment counts hits in a window, holds from the hit that reaches the limit, then starts again', async () => {
      const now = Date.now();
      const id = newId();
      assert.deepEqual(await store.increment(id, now, rule), { count: 1, expiresAt: now + 60_000 });
      assert.deepEqual(await store.increment(id, now + 1_000, rule), { count: 2, expiresAt: now + 60_000 });
      assert.deepEqual(await store.increment(id, now + 2_000, rule), { count: 3, expiresAt: now + 602_000 }, 'the limit holds it');
      assert.deepEqual(await store.increment(id, now + 3_000, rule), { count: 4, expiresAt: now + 602_000 }, 'later hits do not extend the hold');
      const stored = await store.get(id, now + 3_000);
      assert.deepEqual(stored?.data, { count: 4 });
      assert.equal(stored?.expiresAt, now + 602_000);
      assert.deepEqual(await store.increment(id, now + 602_000, rule), { count: 1, expiresAt: now + 662_000 }, 'a lapsed counter starts again');
    });

    test('a limit of 1 holds from the first hit', async () => {
      const now = Date.now();
      assert.deepEqual(await store.increment(newId(), now, { windowMs: 1_000, limit: 1, holdMs: 5_000 }), { count: 1, expiresAt: now + 5_000 });
    });

    test('concurrent increments from two processes are all counted', async () => {
      const peer = await fixture.openPeer();
      try {
        await peer.init();
        const now = Date.now();
        const id = newId();
        const wide = { windowMs: 60_000, limit: 1_000, holdMs: 60_000 };
        const states = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? peer : store).increment(id, now, wide)));
        assert.deepEqual(states.map((state) => state.count).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
        assert.deepEqual((await store.get(id, now))?.data, { count: 20 });
      } finally {
        await peer.close();
      }
    });

    test('a lapsed counter is purged like an expired session, and destroy resets it', async () => {
      const now = Date.now();
      const lapsed = newId();
      const live = newId();
      await store.increment(lapsed, now - 120_000, rule);
      await store.increment(live, now, rule);
      assert.deepEqual(await store.purgeExpired(now, 100), [{ id: lapsed }]);
      assert.equal(await store.destroy(live), true);
      assert.equal((await store.increment(live, now, rule)).count, 1);
    });

    test('a namespace keeps its records apart, on the same backend', async () => {
      const now = Date.now();
      const namespaced = store.withNamespace('admin');
      await namespaced.init();
      const inside = newId();
      const outside = newId();
      await namespaced.create(inside, record(now, { user: 'operator' }));
      await namespaced.increment(newId(), now, rule);
      await store.create(outside, record(now));
      assert.equal(await store.get(inside, now), undefined, 'not visible outside');
      assert.equal(await namespaced.get(outside, now), undefined, 'nor the other way round');
      assert.equal(await store.count(now), 1);
      assert.deepEqual((await store.list({ limit: 10, sort: 'activity', now })).sessions.map((s) => s.id), [outside]);
      assert.equal(await store.destroyAll(), 1, 'destroyAll leaves the namespace alone');
      assert.deepEqual((await namespaced.get(inside, now))?.data, { user: 'operator' });
      const peer = await fixture.openPeer();
      try {
        await peer.init();
        const peerNamespace = peer.withNamespace('admin');
        await peerNamespace.init();
        assert.deepEqual((await peerNamespace.get(inside, now))?.data, { user: 'operator' }, 'another process opens the same namespace');
      } finally {
        await peer.close();
      }
      assert.equal(await namespaced.destroyAll(), 2);
      await namespaced.close();
      await store.ping();
    });

    test('a namespace name is checked', () => {
      for (const name of ['', 'Admin', 'a-b', 'a:b', '../x', 'x'.repeat(17), '1st']) {
        assert.throws(() => store.withNamespace(name), TypeError, name);
      }
    });

    test('destroyAll removes every session and says how many', async () => {
      const now = Date.now();
      for (let i = 0; i < 6; i++) await store.create(newId(), record(now));
      await store.create(newId(), record(now - 5_000, {}, 1_000));
      assert.equal(await store.destroyAll(), 7);
      assert.equal(await store.count(now), 0);
      assert.deepEqual(await store.purgeExpired(now, 100), []);
      assert.equal(await store.destroyAll(), 0);
    });
  });
}
