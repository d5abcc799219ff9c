/**
 * What operators see and do during a backend switch, on the reference app:
 * the API's stats and the dashboard show both stores (live per store, moved
 * in the last hour); a session still in the previous store can be looked at
 * and ended by its public id; ending every session empties both stores; and
 * the previous store's expired sessions are swept and logged as its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { migrateSessions } from '../../middleware/migration.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { createNamespace, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { previousOptionsOf } from '../helpers/switch-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';

describe('operators during a switch from PostgreSQL to files', () => {
  let previousNamespace: StoreNamespace;
  let previous: SessionStore;
  let site: TestApp;
  const api = (method: 'get' | 'post' | 'delete', path: string) => request(site.app.callback())[method](path).set('Authorization', basicAuth());

  before(async () => {
    previousNamespace = await createNamespace('postgres');
    previous = previousNamespace.open();
    await previous.init();
    site = await createTestApp('file', { sessions: previousOptionsOf(previousNamespace) });
  });

  after(async () => {
    await site.close();
    await previous.close();
    await previousNamespace.remove();
  });

  test('the stats and the dashboard show both stores, and what moved in the last hour', async () => {
    const ids = await seedSessions(previous, { count: 3 });
    const before = (await api('get', '/admin/api/stats').expect(200)).body;
    assert.deepEqual(before.previous, { store: 'postgres', healthy: true, live: 3 });
    assert.equal(before.live, 0);
    assert.equal(before.movedLastHour, 0);
    assert.equal(await site.sessions.transition!.move(ids[0]!, (await previous.get(ids[0]!, Date.now()))!), 'moved');
    await site.sessions.events.flushed();
    const after = (await api('get', '/admin/api/stats').expect(200)).body;
    assert.deepEqual([after.live, after.previous.live, after.movedLastHour], [1, 2, 1]);

    const agent = request.agent(site.app.callback());
    await site.signIn(agent);
    const page = await agent.get('/admin').expect(200);
    assert.match(page.text, /<span class="total-value">2<\/span>\s*<span class="total-label">sessions still in the previous store<\/span>/);
    assert.match(page.text, /<span class="total-value">1<\/span>\s*<span class="total-label">moved in the last hour<\/span>/);
    assert.match(page.text, /moving away from 127\.0\.0\.1:5432\/test/);
    assert.match(page.text, /session\.moved/, 'the feed shows the move');
  });

  test('a session still in the previous store is ended by its id, and ending every session empties both stores', async () => {
    const [waiting] = await seedSessions(previous, { count: 1, data: { theme: 'dark' } });
    const shown = (await api('get', '/admin/api/sessions').expect(200)).body.sessions.map((session: { id: string }) => session.id);
    assert.ok(!shown.includes(waiting), 'the list is the current store\'s');
    await api('delete', `/admin/api/sessions/${waiting}`).expect(200, { removed: 1 });
    assert.deepEqual(await idsStillStored(previous, [waiting!]), []);

    const left = await seedSessions(previous, { count: 2 });
    const removed = (await api('post', '/admin/api/purge-all').expect(200)).body.removed;
    assert.ok(removed >= 2);
    assert.deepEqual(await idsStillStored(previous, left), []);
    assert.equal(await site.store.count(0), 0);
  });

  test('purging expired sessions sweeps the previous store too, logging each expiry as that store\'s', async () => {
    const expired = await seedSessions(previous, { count: 2, expiresInMs: -60_000 });
    const before = site.events.length;
    const { removed } = (await api('post', '/admin/api/purge-expired').expect(200)).body;
    assert.equal(removed, 2);
    const expiries = site.events.slice(before).filter((event) => event.event === 'session.expired');
    assert.deepEqual(expiries.map((event) => `${event.sid} ${event.store}`).sort(), expired.map((id) => `${id} postgres`).sort());
    assert.deepEqual(await idsStillStored(previous, expired), []);
  });

  test('migrateSessions refuses a batch, a concurrency or a wait out of range, before touching a store', async () => {
    const [kept] = await seedSessions(previous, { count: 1 });
    const transition = site.sessions.transition!;
    for (const [options, message] of [
      [{ batchSize: 0 }, /^migrateSessions: batchSize must be a whole number from 1 to 1000, not 0$/],
      [{ batchSize: 1001 }, /batchSize must be a whole number from 1 to 1000, not 1001$/],
      [{ concurrency: 0 }, /^migrateSessions: concurrency must be a whole number from 1 to 1000, not 0$/],
      [{ concurrency: 2.5 }, /concurrency must be a whole number from 1 to 1000, not 2.5$/],
      [{ settleMs: -1 }, /^migrateSessions: settleMs must be a whole number from 0 to 3600000, not -1$/],
      [{ settleMs: Number.NaN }, /settleMs must be a whole number from 0 to 3600000, not NaN$/],
    ] as const) {
      await assert.rejects(migrateSessions(transition, site.sessions.sweeper, options), (err: unknown) => err instanceof RangeError && message.test(err.message));
    }
    assert.deepEqual(await idsStillStored(previous, [kept!]), [kept], 'nothing moved');
  });
});
