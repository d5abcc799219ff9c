import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { basicAuth, csrfTokenIn } from '../helpers/dashboard-client.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../helpers/test-settings.ts';

for (const kind of STORE_KINDS) {
  describe(`dashboard CSRF protection (${kind} store)`, () => {
    let site: TestApp;
    let agent: ReturnType<TestApp['agent']>;
    let csrf: string;
    let live: string[];
    let seeded: string[];
    const adminActions: LifecycleEvent[] = [];

    before(async () => {
      site = await createTestApp(kind);
      live = await seedSessions(site.store, { count: 3 });
      seeded = [...live, ...(await seedSessions(site.store, { count: 2, expiresInMs: -60_000 }))];
      agent = site.agent();
      csrf = await site.signIn(agent);
      site.sessions.events.on('event', (event: LifecycleEvent) => {
        if (event.event === 'sessions.purged' || event.event === 'session.destroyed') adminActions.push(event);
      });
    });
    after(() => site.close());

    const forms = () => ['/admin/purge-expired', '/admin/end-all', `/admin/sessions/${live[0]}/end`];

    test('a form without a token, with a wrong one, or with another sign-in\'s token gets 403 and removes nothing', async () => {
      const other = site.agent();
      const otherToken = await site.signIn(other);
      assert.notEqual(otherToken, csrf);
      for (const path of forms()) {
        for (const body of [{}, { csrf: '' }, { csrf: 'x'.repeat(43) }, { csrf: `${csrf}x` }, { csrf: otherToken }]) {
          const res = await agent.post(path).type('form').send(body).expect(403);
          assert.match(res.text, /nothing was changed/, `${path} ${JSON.stringify(body)}`);
        }
        // The token in a JSON body or the query string is not a form field.
        await agent.post(path).send({ csrf }).expect(403);
        await agent.post(`${path}?csrf=${csrf}`).type('form').send({}).expect(403);
      }
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded);
      assert.deepEqual(adminActions, []);
    });

    test('a valid token from another origin gets 403 and removes nothing (Origin, else Referer)', async () => {
      for (const path of forms()) {
        for (const [header, value] of [['Origin', 'https://evil.example'], ['Origin', 'null'], ['Referer', 'https://evil.example/page'], ['Referer', 'not a url']]) {
          await agent.post(path).set(header!, value!).type('form').send({ csrf }).expect(403);
        }
      }
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded);
      assert.deepEqual(adminActions, []);
    });

    test('the same token from this origin works', async () => {
      await agent.post(`/admin/sessions/${live[0]}/end`).set('Host', 'dash.example').set('Origin', 'http://dash.example').type('form').send({ csrf }).expect(303);
      await agent.post(`/admin/sessions/${live[1]}/end`).set('Host', 'dash.example').set('Referer', 'http://dash.example/admin?sort=expiry').type('form').send({ csrf }).expect(303);
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded.slice(2));
      assert.equal(adminActions.length, 2);
    });

    test('logout needs the token too', async () => {
      await agent.post('/admin/logout').type('form').send({}).expect(403);
      await agent.post('/admin/logout').set('Origin', 'https://evil.example').type('form').send({ csrf }).expect(403);
      await agent.get('/admin').expect(200);
    });

    test('login CSRF: the login form needs its own token, from the same browser, and the same origin', async () => {
      const browser = site.agent();
      const token = csrfTokenIn((await browser.get('/admin/login').expect(200)).text);
      const credentials = { user: ADMIN_USER, password: ADMIN_PASSWORD };
      await browser.post('/admin/login').type('form').send(credentials).expect(403);
      await browser.post('/admin/login').type('form').send({ ...credentials, csrf: 'y'.repeat(43) }).expect(403);
      await browser.post('/admin/login').set('Origin', 'https://evil.example').type('form').send({ ...credentials, csrf: token }).expect(403);
      // An attacker's token is useless without the attacker's cookie.
      const attacker = site.agent();
      const attackerToken = csrfTokenIn((await attacker.get('/admin/login').expect(200)).text);
      await browser.post('/admin/login').type('form').send({ ...credentials, csrf: attackerToken }).expect(403);
      const noCookie = await request(site.app.callback()).post('/admin/login').type('form').send({ ...credentials, csrf: token }).expect(403);
      assert.match(noCookie.text, /sign-in form has expired/);
      await browser.get('/admin').expect(303);
      await browser.post('/admin/login').type('form').send({ ...credentials, csrf: token }).expect(303).expect('Location', '/admin');
      await browser.get('/admin').expect(200);
    });

    test('the API with the admin cookie: reads need nothing more, changes need the X-CSRF-Token header', async () => {
      await agent.get('/admin/api/stats').expect(200);
      for (const headers of [{}, { 'X-CSRF-Token': 'z'.repeat(43) }, { 'X-CSRF-Token': csrf, Origin: 'https://evil.example' }]) {
        await agent.post('/admin/api/purge-all').set(headers).expect(403).expect('Content-Type', /json/);
        await agent.delete(`/admin/api/sessions/${live[2]}`).set(headers).expect(403);
      }
      assert.deepEqual(await idsStillStored(site.store, seeded.slice(2)), seeded.slice(2));
      const res = await agent.delete(`/admin/api/sessions/${live[2]}`).set('X-CSRF-Token', csrf).expect(200);
      assert.deepEqual(res.body, { removed: 1 });
    });

    test('the API with Basic refuses changes sent by a page of another origin (a browser replays cached Basic credentials)', async () => {
      const before = await idsStillStored(site.store, seeded);
      await request(site.app.callback()).post('/admin/api/purge-all').set('Authorization', basicAuth()).set('Origin', 'https://evil.example').expect(403);
      await request(site.app.callback()).post('/admin/api/purge-expired').set('Authorization', basicAuth()).set('Referer', 'https://evil.example/').expect(403);
      assert.deepEqual(await idsStillStored(site.store, seeded), before);
    });
  });
}
