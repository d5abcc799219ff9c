import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import request from 'supertest';
import { basicAuth, cookiesSet, csrfTokenIn } from '../helpers/dashboard-client.ts';
import { unreachableStore } from '../helpers/failing-stores.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { ADMIN_PASSWORD, ADMIN_USER, TEST_KEYS } from '../helpers/test-settings.ts';

const SOME_ID = 'A'.repeat(43);

for (const kind of STORE_KINDS) {
  describe(`dashboard while the ${kind} store does not answer`, () => {
    let site: TestApp;

    before(async () => {
      // Sign-ins and failure counts live in the store too: while it is down, the dashboard can only say so.
      site = await createTestApp(kind, { store: unreachableStore(kind), storeTimeoutMs: 500 });
    });
    after(() => site.close());

    test('every API call and the event stream get 503 JSON within 5 seconds: credentials are checked against counts kept in the store', async () => {
      const client = request(site.app.callback());
      const calls = [
        client.get('/admin/api/sessions'), client.get('/admin/api/stats'), client.get('/admin/api/events'), client.delete(`/admin/api/sessions/${SOME_ID}`),
        client.post('/admin/api/purge-expired'), client.post('/admin/api/purge-all'), client.get('/admin/events/stream'),
      ];
      for (const call of calls) {
        const startedMs = Date.now();
        const res = await call.set('Authorization', basicAuth()).expect(503).expect('Content-Type', /json/);
        assert.ok(Date.now() - startedMs < 5000);
        assert.match(res.body.error, new RegExp(`The ${kind} session store is not answering`));
      }
    });

    test('the login page still shows; signing in answers a 503 page within 5 seconds and sets no admin cookie', async () => {
      const agent = site.agent();
      const loginPage = await agent.get('/admin/login').expect(200);
      const startedMs = Date.now();
      const res = await agent
        .post('/admin/login')
        .type('form')
        .send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password: ADMIN_PASSWORD })
        .expect(503)
        .expect('Content-Type', /html/);
      assert.ok(Date.now() - startedMs < 5000);
      assert.match(res.text, /not answering/);
      assert.ok(!cookiesSet(res).some((cookie) => cookie.startsWith('sk_admin=')), 'no sign-in without the store');
    });

    test('with an admin cookie, pages, the confirmation page and every cleanup form get a 503 page', async () => {
      // A sign-in cookie as it was issued before the outage: the store that would confirm it does not answer.
      const token = 'B'.repeat(43);
      const signature = createHmac('sha1', TEST_KEYS[0]!).update(`sk_admin=${token}`).digest('base64url');
      const cookie = `sk_admin=${token}; sk_admin.sig=${signature}`;
      const client = request(site.app.callback());
      for (const path of ['/admin', '/admin/end-all']) {
        const res = await client.get(path).set('Cookie', cookie).expect(503);
        assert.match(res.text, /not answering/);
      }
      for (const path of ['/admin/purge-expired', '/admin/end-all', `/admin/sessions/${SOME_ID}/end`, '/admin/logout']) {
        const res = await client.post(path).set('Cookie', cookie).type('form').send({ csrf: 'x' }).expect(503);
        assert.match(res.text, /not answering/);
      }
    });
  });
}
