import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { encodeCursor } from '../../middleware/cursor.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface ApiSession {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  sizeBytes: number;
  keys: string[];
}

for (const kind of STORE_KINDS) {
  describe(`dashboard JSON API (${kind} store)`, () => {
    let site: TestApp;
    let events: LifecycleEvent[];
    const api = () => {
      const client = request(site.app.callback());
      return {
        get: (path: string) => client.get(path).set('Authorization', basicAuth()),
        post: (path: string) => client.post(path).set('Authorization', basicAuth()),
        delete: (path: string) => client.delete(path).set('Authorization', basicAuth()),
        put: (path: string) => client.put(path).set('Authorization', basicAuth()),
      };
    };

    before(async () => {
      site = await createTestApp(kind);
      site.sessions.events.on('event', (event: LifecycleEvent) => events.push(event));
    });
    beforeEach(async () => {
      await site.store.destroyAll();
      events = [];
    });
    after(() => site.close());

    test('GET /admin/api/sessions: exactly { sessions: [{ id, createdAt, lastSeenAt, expiresAt, sizeBytes, keys }], nextCursor }', async () => {
      const [id] = await seedSessions(site.store, { count: 1, data: { upload: { lines: ['secret value'] }, theme: 'dark' } });
      const record = (await site.store.get(id!, Date.now()))!;
      const res = await api().get('/admin/api/sessions').expect(200).expect('Content-Type', /application\/json/);
      assert.deepEqual(Object.keys(res.body), ['sessions', 'nextCursor']);
      assert.equal(res.body.nextCursor, null);
      assert.deepEqual(res.body.sessions, [{
        id,
        createdAt: new Date(record.createdAt).toISOString(),
        lastSeenAt: new Date(record.lastSeenAt).toISOString(),
        expiresAt: new Date(record.expiresAt).toISOString(),
        sizeBytes: Buffer.byteLength(JSON.stringify(record.data)),
        keys: ['upload', 'theme'],
      }]);
      const session = res.body.sessions[0] as ApiSession;
      assert.deepEqual(Object.keys(session), ['id', 'createdAt', 'lastSeenAt', 'expiresAt', 'sizeBytes', 'keys']);
      for (const time of [session.createdAt, session.lastSeenAt, session.expiresAt]) assert.match(time, ISO_TIME);
      assert.doesNotMatch(res.text, /secret value/);
      assert.equal(res.headers['cache-control'], 'no-store');
    });

    test('pages through more sessions than one page without repeats or gaps, in both sorts; limit defaults to 50', async () => {
      const ids = await seedSessions(site.store, { count: 120 });
      const first = await api().get('/admin/api/sessions').expect(200);
      assert.equal(first.body.sessions.length, 50);
      const expected = { activity: [...ids].reverse(), expiry: ids };
      for (const sort of ['activity', 'expiry'] as const) {
        const seen: string[] = [];
        const sizes: number[] = [];
        let cursor: string | null = null;
        do {
          const query: string = `limit=50&sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`;
          const page = await api().get(`/admin/api/sessions?${query}`).expect(200);
          sizes.push(page.body.sessions.length);
          seen.push(...page.body.sessions.map((s: ApiSession) => s.id));
          cursor = page.body.nextCursor;
          assert.ok(cursor === null || typeof cursor === 'string');
        } while (cursor);
        assert.deepEqual(sizes, [50, 50, 20], sort);
        assert.deepEqual(seen, expected[sort], `${sort}: every session once, in order`);
      }
    });

    test('lists live sessions only', async () => {
      const live = await seedSessions(site.store, { count: 2 });
      await seedSessions(site.store, { count: 3, expiresInMs: -5000 });
      const res = await api().get('/admin/api/sessions?sort=expiry').expect(200);
      assert.deepEqual(res.body.sessions.map((s: ApiSession) => s.id), live);
    });

    test('GET /admin/api/stats: exactly { store, healthy, live, and created, expired, destroyed, evicted in the last hour }', async () => {
      const [ended] = await seedSessions(site.store, { count: 4 });
      await seedSessions(site.store, { count: 2, expiresInMs: -5000 });
      const before = await api().get('/admin/api/stats').expect(200);
      assert.deepEqual(Object.keys(before.body), ['store', 'healthy', 'live', 'createdLastHour', 'expiredLastHour', 'destroyedLastHour', 'evictedLastHour']);
      assert.equal(before.body.store, kind);
      assert.equal(before.body.healthy, true);
      assert.equal(before.body.live, 4);
      for (const counter of ['createdLastHour', 'expiredLastHour', 'destroyedLastHour', 'evictedLastHour']) assert.equal(typeof before.body[counter], 'number');
      // An operator's action is in the counters by the time it answers: a script reads its own writes.
      await api().post('/admin/api/purge-expired').expect(200);
      await api().delete(`/admin/api/sessions/${ended}`).expect(200);
      const after = await api().get('/admin/api/stats').expect(200);
      assert.equal(after.body.expiredLastHour, before.body.expiredLastHour + 2);
      assert.equal(after.body.destroyedLastHour, before.body.destroyedLastHour + 1);
      assert.equal(after.body.evictedLastHour, before.body.evictedLastHour);
      assert.equal(after.body.live, 3);
    });

    test('DELETE /admin/api/sessions/:id: { removed: 1 }, logged; then 404; malformed ids 400', async () => {
      const [target, other] = await seedSessions(site.store, { count: 2 });
      const res = await api().delete(`/admin/api/sessions/${target}`).expect(200);
      assert.deepEqual(res.body, { removed: 1 });
      assert.deepEqual(events.map(({ event, sid, by }) => ({ event, sid, by })), [{ event: 'session.destroyed', sid: target, by: 'admin' }]);
      const again = await api().delete(`/admin/api/sessions/${target}`).expect(404).expect('Content-Type', /json/);
      assert.deepEqual(Object.keys(again.body), ['error']);
      for (const bad of ['short', 'y'.repeat(44), '..%2F..%2Fetc', `${other!.slice(0, 42)}%2F`]) {
        const malformed = await api().delete(`/admin/api/sessions/${bad}`).expect(400);
        assert.equal(typeof malformed.body.error, 'string');
      }
      assert.deepEqual(await idsStillStored(site.store, [other!]), [other]);
    });

    test('POST /admin/api/purge-expired: { removed: n }, only expired sessions, each logged', async () => {
      const live = await seedSessions(site.store, { count: 2 });
      const expired = await seedSessions(site.store, { count: 3, expiresInMs: -5000 });
      assert.deepEqual((await api().post('/admin/api/purge-expired').expect(200)).body, { removed: 3 });
      assert.deepEqual((await api().post('/admin/api/purge-expired').expect(200)).body, { removed: 0 });
      assert.deepEqual(await idsStillStored(site.store, [...live, ...expired]), live);
      assert.equal(events.filter((e) => e.event === 'session.expired').length, 3);
      assert.deepEqual(events.filter((e) => e.event === 'sessions.purged').map((e) => e.count), [3, 0]);
    });

    test('POST /admin/api/purge-all: { removed: n }, every session, logged with the count', async () => {
      const ids = [...(await seedSessions(site.store, { count: 4 })), ...(await seedSessions(site.store, { count: 1, expiresInMs: -5000 }))];
      assert.deepEqual((await api().post('/admin/api/purge-all').expect(200)).body, { removed: 5 });
      assert.deepEqual(await idsStillStored(site.store, ids), []);
      assert.equal((await api().get('/admin/api/stats').expect(200)).body.live, 0);
      assert.deepEqual(events.map(({ event, count, scope, by }) => ({ event, count, scope, by })), [{ event: 'sessions.purged', count: 5, scope: 'all', by: 'admin' }]);
    });

    test('GET /admin/api/events: { events: [{ event, sid, at, … }] }, newest first, limit respected', async () => {
      const ids = await seedSessions(site.store, { count: 3 });
      for (const id of ids) await api().delete(`/admin/api/sessions/${id}`).expect(200);
      const res = await api().get('/admin/api/events?limit=2').expect(200);
      assert.deepEqual(Object.keys(res.body), ['events']);
      assert.deepEqual(res.body.events.map((e: LifecycleEvent) => e.sid), [ids[2], ids[1]]);
      for (const event of res.body.events as LifecycleEvent[]) {
        assert.equal(event.event, 'session.destroyed');
        assert.match(event.at, ISO_TIME);
        assert.equal(event.store, kind);
      }
      const all = await api().get('/admin/api/events').expect(200);
      assert.ok(all.body.events.length >= 3 && all.body.events.length <= 50);
    });

    test('malformed limits, sorts and cursors get 400 JSON, never 500', async () => {
      const bad = [
        '/admin/api/sessions?limit=0', '/admin/api/sessions?limit=1001', '/admin/api/sessions?limit=abc', '/admin/api/sessions?limit=-1',
        '/admin/api/sessions?limit=1.5', '/admin/api/sessions?limit=1&limit=2', '/admin/api/sessions?sort=size', '/admin/api/sessions?sort=EXPIRY',
        '/admin/api/sessions?cursor=nope', '/admin/api/sessions?cursor=%00', `/admin/api/sessions?cursor=${'A'.repeat(300)}`,
        '/admin/api/events?limit=0', '/admin/api/events?limit=5000', '/admin/api/events?limit=x',
      ];
      for (const path of bad) {
        const res = await api().get(path);
        assert.equal(res.status, 400, path);
        assert.deepEqual(Object.keys(res.body), ['error'], path);
      }
      // A well-formed cursor for a position no session holds is simply where the next page starts.
      const ids = await seedSessions(site.store, { count: 2 });
      const cursor = encodeCursor({ score: Date.now() + 365 * 86_400_000, id: 'zzz' });
      const res = await api().get(`/admin/api/sessions?sort=expiry&cursor=${cursor}`).expect(200);
      assert.deepEqual(res.body, { sessions: [], nextCursor: null });
      assert.equal((await api().get('/admin/api/sessions?limit=1000').expect(200)).body.sessions.length, ids.length);
    });

    test('wrong methods get 405 JSON and unknown API paths 404 JSON', async () => {
      const put = await api().put('/admin/api/stats').expect(405).expect('Content-Type', /json/).expect('Allow', /GET/);
      assert.equal(typeof put.body.error, 'string');
      await api().post('/admin/api/sessions').expect(405);
      await api().get('/admin/api/purge-all').expect(405).expect('Allow', 'POST');
      const missing = await api().get('/admin/api/session').expect(404).expect('Content-Type', /json/);
      assert.equal(typeof missing.body.error, 'string');
    });
  });
}
