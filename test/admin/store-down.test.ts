import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { FileStore } from '../../middleware/stores/file-store.ts';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { ADMIN_PASSWORD, ADMIN_USER, basicAuth, createAdminApp, csrfTokenIn, type AdminTestApp } from '../helpers/admin-app.ts';

/** A real store of each kind pointed at something that cannot answer: a path under a file, a closed port. */
function unreachableStore(kind: StoreKind): SessionStore {
  switch (kind) {
    case 'file': return new FileStore({ dir: '/dev/null/sessionkeeper' });
    case 'redis': return new RedisStore({ url: 'redis://127.0.0.1:1', prefix: 'sktest-down:' });
    case 'postgres': return new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', table: 'sktest_down' });
  }
}

const SOME_ID = 'A'.repeat(43);

for (const kind of STORE_KINDS) {
  describe(`dashboard while the ${kind} store does not answer`, () => {
    let site: AdminTestApp;

    before(async () => {
      site = await createAdminApp(kind, {}, { store: unreachableStore(kind), storeTimeoutMs: 500 });
    });
    after(() => site.close());

    test('every API call that needs the store gets 503 JSON within 5 seconds', async () => {
      const client = request(site.app.callback());
      const calls = [
        client.get('/admin/api/sessions'), client.get('/admin/api/stats'), client.delete(`/admin/api/sessions/${SOME_ID}`),
        client.post('/admin/api/purge-expired'), client.post('/admin/api/purge-all'),
      ];
      for (const call of calls) {
        const startedMs = Date.now();
        const res = await call.set('Authorization', basicAuth()).expect(503).expect('Content-Type', /json/);
        assert.ok(Date.now() - startedMs < 5000);
        assert.match(res.body.error, new RegExp(`The ${kind} session store is not answering`));
      }
      // The feed is in memory: it still answers.
      await client.get('/admin/api/events').set('Authorization', basicAuth()).expect(200);
    });

    test('the operator can still sign in; the sessions page says the store is not answering, where it is, and shows the feed', async () => {
      const agent = site.agent();
      await signInWhileDown(agent);
      const page = await agent.get('/admin').expect(503);
      assert.match(page.text, new RegExp(`The ${kind} store is not answering`));
      assert.ok(page.text.includes(site.sessions.store.location), 'says where the store is');
      assert.match(page.text, /<ol class="event-feed"/);
      assert.doesNotMatch(page.text, /Purge expired now/, 'no buttons that cannot work now');
    });

    test('cleanup forms get a 503 page and the confirmation page too', async () => {
      const agent = site.agent();
      const csrf = await signInWhileDown(agent);
      await agent.get('/admin/end-all').expect(503);
      for (const path of ['/admin/purge-expired', '/admin/end-all', `/admin/sessions/${SOME_ID}/end`]) {
        const res = await agent.post(path).type('form').send({ csrf }).expect(503);
        assert.match(res.text, /not answering/);
      }
    });
  });
}

/** Signs in (the sessions page itself answers 503 here) and returns the CSRF token from the header's logout form. */
async function signInWhileDown(agent: ReturnType<AdminTestApp['agent']>): Promise<string> {
  const loginPage = await agent.get('/admin/login').expect(200);
  await agent.post('/admin/login').type('form').send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password: ADMIN_PASSWORD }).expect(303);
  return csrfTokenIn((await agent.get('/admin').expect(503)).text);
}
