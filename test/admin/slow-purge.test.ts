/**
 * An operator's purge that outlasts its answer time is not an outage: the
 * answer is 503 saying the purge goes on in the background (not that the store
 * is down), and the purge does finish.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { basicAuth } from '../helpers/dashboard-client.ts';
import { FaultyFileStore } from '../helpers/failing-stores.ts';
import { seedSessions } from '../helpers/seeded-sessions.ts';
import { createNamespace, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { waitUntil } from '../helpers/wait.ts';

let namespace: StoreNamespace;
let store: FaultyFileStore;
let site: TestApp;

before(async () => {
  namespace = await createNamespace('file');
  store = new FaultyFileStore({ dir: namespace.settings.fileDir! });
  // Longer than the 4 s an operator's purge may take to answer, shorter than the store calls' own bound.
  store.purgeDelayMs = 4_500;
  site = await createTestApp('file', { namespace, store, storeTimeoutMs: 10_000 });
});
after(async () => {
  await site.close();
  await namespace.remove();
});

test('a purge still running after 4 s answers 503 saying so, then finishes in the background', async () => {
  await seedSessions(store, { count: 3, expiresInMs: -60_000 });
  const res = await request(site.app.callback()).post('/admin/api/purge-expired').set('Authorization', basicAuth()).expect(503).expect('Content-Type', /json/);
  assert.match(res.body.error, /^The purge is still running; it finishes in the background/);
  assert.doesNotMatch(res.body.error, /not answering/);
  await waitUntil('the three expiries are logged', () => site.events.filter((event) => event.event === 'session.expired').length === 3, 5_000);
});
