/**
 * The dashboard's sign-ins and failure counts are state in the configured
 * store: a sign-out holds in every process and after a restart, and a lockout
 * (per address, per account) is seen by every process and survives a restart.
 * "Another process" and "a restart" are further apps over the same store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { basicAuth, cookiesSet, csrfTokenIn } from '../helpers/dashboard-client.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../helpers/test-settings.ts';

for (const kind of STORE_KINDS) {
  describe(`dashboard sign-ins kept in the ${kind} store`, () => {
    let site: TestApp;
    const peers: TestApp[] = [];
    /** Another server process over the same store (or the same one restarted): same keys, same credentials. */
    const anotherProcess = async () => {
      const peer = await createTestApp(kind, { namespace: site.namespace, server: { trustProxy: true } });
      peers.push(peer);
      return peer;
    };
    let address = 0;
    const nextAddress = () => `203.0.113.${++address}`;
    /** Failed checks this describe has made on the one account so far: the account lock counts them all. */
    let accountFailures = 0;

    before(async () => {
      site = await createTestApp(kind, { server: { trustProxy: true } });
    });
    after(async () => {
      for (const peer of peers) await peer.close();
      await site.close();
    });

    test('a signed-out cookie stays dead in another process and after a restart, and is never issued again', async () => {
      const agent = site.agent();
      const csrf = await site.signIn(agent);
      const page = await agent.get('/admin').expect(200);
      const copy = cookiesSet(page).map((cookie) => cookie.split(';')[0]).join('; ');
      assert.match(copy, /sk_admin=/);
      const other = await anotherProcess();
      await request(other.app.callback()).get('/admin').set('Cookie', copy).expect(200, /Sessions/);

      await agent.post('/admin/logout').type('form').send({ csrf }).expect(303);
      for (const server of [site, other, await anotherProcess()]) {
        const replay = await request(server.app.callback()).get('/admin').set('Cookie', copy);
        assert.equal(replay.status, 303, 'sent to the login page');
        assert.equal(replay.headers.location, '/admin/login');
        assert.ok(!cookiesSet(replay).some((cookie) => /^sk_admin=[^;]/.test(cookie)), 'the admin cookie is not issued again');
        await request(server.app.callback()).get('/admin/api/stats').set('Cookie', copy).expect(401);
      }
    });

    test('a locked address is refused by every process and after a restart, even with the right password', async () => {
      const guesser = nextAddress();
      for (let i = 0; i < 4; i++) {
        await request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', guesser).set('Authorization', basicAuth(ADMIN_USER, 'wrong guess')).expect(401);
      }
      const other = await anotherProcess();
      await request(other.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', guesser).set('Authorization', basicAuth(ADMIN_USER, 'wrong guess')).expect(429);
      accountFailures += 5;
      for (const server of [site, other, await anotherProcess()]) {
        const res = await request(server.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', guesser).set('Authorization', basicAuth()).expect(429);
        assert.ok(Number(res.headers['retry-after']) > 0);
        assert.match(res.body.error, /from your address/);
      }
      await request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', nextAddress()).set('Authorization', basicAuth()).expect(200);
    });

    test('a hundred failures on the account from as many addresses lock the account for everyone, on the login form too', async () => {
      const other = await anotherProcess();
      for (let i = 0; accountFailures < 100; i++) {
        const server = i % 2 ? site : other;
        accountFailures += 1;
        await request(server.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', nextAddress()).set('Authorization', basicAuth(ADMIN_USER, `guess ${i}`)).expect(accountFailures < 100 ? 401 : 429);
      }
      const fresh = nextAddress();
      const res = await request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', fresh).set('Authorization', basicAuth()).expect(429);
      assert.match(res.body.error, /on this account/);
      const agent = site.agent();
      const loginPage = await agent.get('/admin/login').set('X-Forwarded-For', fresh).expect(200);
      await agent
        .post('/admin/login')
        .set('X-Forwarded-For', fresh)
        .type('form')
        .send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password: ADMIN_PASSWORD })
        .expect(429);
    });
  });
}
