import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { basicAuth, cookiesSet, csrfTokenIn } from '../helpers/dashboard-client.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../helpers/test-settings.ts';

/** Every dashboard page (GET) and form target (POST), with `id` the public id of a live session. */
const htmlGets = ['/admin', '/admin/', '/admin/end-all', '/admin?sort=expiry&limit=5'];
const htmlPosts = (id: string) => ['/admin/purge-expired', '/admin/end-all', `/admin/sessions/${id}/end`, '/admin/logout'];
/** Every API route and the event stream, as [method, path]. */
const apiRoutes = (id: string): ['get' | 'post' | 'delete', string][] => [
  ['get', '/admin/api/sessions'],
  ['get', '/admin/api/stats'],
  ['get', '/admin/api/events'],
  ['delete', `/admin/api/sessions/${id}`],
  ['post', '/admin/api/purge-expired'],
  ['post', '/admin/api/purge-all'],
  ['get', '/admin/events/stream'],
];

for (const kind of STORE_KINDS) {
  describe(`dashboard authentication (${kind} store)`, () => {
    let site: TestApp;
    let live: string[];
    let expired: string[];
    let seeded: string[];
    // Each test that fails credentials uses its own address, so no test locks out another.
    let address = 0;
    const nextAddress = () => `198.51.100.${++address}`;

    before(async () => {
      site = await createTestApp(kind, { server: { trustProxy: true } });
      live = await seedSessions(site.store, { count: 3 });
      expired = await seedSessions(site.store, { count: 2, expiresInMs: -60_000 });
      seeded = [...live, ...expired];
    });
    after(() => site.close());

    test('HTML pages and forms redirect to the login page without a sign-in, changing nothing', async () => {
      for (const path of htmlGets) {
        await request(site.app.callback()).get(path).expect(303).expect('Location', '/admin/login');
      }
      for (const path of htmlPosts(live[0]!)) {
        await request(site.app.callback()).post(path).type('form').send({ csrf: 'x' }).expect(303).expect('Location', '/admin/login');
      }
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded);
    });

    test('API routes answer 401 JSON with a Basic challenge without credentials, changing nothing', async () => {
      for (const [method, path] of apiRoutes(live[0]!)) {
        const res = await request(site.app.callback())[method](path).expect(401).expect('Content-Type', /json/);
        assert.match(res.headers['www-authenticate'] ?? '', /^Basic realm="sessionkeeper admin"/, path);
        assert.equal(typeof res.body.error, 'string', path);
      }
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded);
    });

    test('a wrong password or user name gets 401 on the API and on the login form', async () => {
      const from = nextAddress();
      await request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', from).set('Authorization', basicAuth(ADMIN_USER, 'wrong password')).expect(401);
      await request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', from).set('Authorization', basicAuth('someone', ADMIN_PASSWORD)).expect(401);
      await request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', from).set('Authorization', 'Bearer abc').expect(401);

      const agent = site.agent();
      const loginPage = await agent.get('/admin/login').expect(200);
      const res = await agent.post('/admin/login').set('X-Forwarded-For', nextAddress()).type('form')
        .send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password: 'wrong password' }).expect(401);
      assert.match(res.text, /Wrong user name or password/);
      assert.match(res.text, /<form class="stacked-form" method="post" action="\/admin\/login">/, 'the form is shown again');
      assert.ok(!cookiesSet(res).some((c) => c.startsWith('sk_admin=')), 'no admin session');
      await agent.get('/admin').expect(303).expect('Location', '/admin/login');
    });

    test('the right credentials work: Basic on the API, the login form for the pages', async () => {
      const stats = await request(site.app.callback()).get('/admin/api/stats').set('Authorization', basicAuth()).expect(200);
      assert.equal(stats.body.live, 3);
      const agent = site.agent();
      await site.signIn(agent);
      const page = await agent.get('/admin').expect(200);
      assert.match(page.text, /Signed in as <strong>operator<\/strong>/);
      await agent.get('/admin/login').expect(303).expect('Location', '/admin');
    });

    test('behind the trusted proxy, a client cannot dodge the lockout by forging X-Forwarded-For', async () => {
      // The proxy appends the real client address; whatever the client wrote before it is not trusted.
      const realClient = nextAddress();
      const guess = (i: number) =>
        request(site.app.callback()).get('/admin/api/stats')
          .set('X-Forwarded-For', `203.0.113.${i}, ${realClient}`)
          .set('Authorization', basicAuth(ADMIN_USER, `guess-${i}`));
      for (let i = 0; i < 4; i++) await guess(i).expect(401);
      await guess(4).expect(429);
    });

    test('brute force: the failure that reaches the limit and every later try from that address get 429, even with the right password', async () => {
      const attacker = nextAddress();
      const guess = (password: string) =>
        request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', attacker).set('Authorization', basicAuth(ADMIN_USER, password));
      for (let i = 0; i < 4; i++) await guess(`guess-${i}`).expect(401);
      const locked = await guess('guess-4').expect(429).expect('Content-Type', /json/);
      const retryAfter = Number(locked.headers['retry-after']);
      assert.ok(retryAfter > 60 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
      assert.match(locked.body.error, /Too many failed sign-ins/);
      await guess(ADMIN_PASSWORD).expect(429).expect('Retry-After', /^\d+$/);

      // The login form shares the lock.
      const agent = site.agent();
      const loginPage = await agent.get('/admin/login').expect(200);
      const form = await agent.post('/admin/login').set('X-Forwarded-For', attacker).type('form')
        .send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password: ADMIN_PASSWORD }).expect(429);
      assert.match(form.text, /Too many failed sign-ins/);
      assert.ok(Number(form.headers['retry-after']) > 0);

      // Another address is not locked.
      await request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', nextAddress()).set('Authorization', basicAuth()).expect(200);
    });

    test('brute force through the login form locks the address as well', async () => {
      const attacker = nextAddress();
      const agent = site.agent();
      const token = csrfTokenIn((await agent.get('/admin/login').expect(200)).text);
      const attempt = (password: string) => agent.post('/admin/login').set('X-Forwarded-For', attacker).type('form').send({ csrf: token, user: ADMIN_USER, password });
      for (let i = 0; i < 4; i++) await attempt(`guess-${i}`).expect(401);
      await attempt('guess-4').expect(429);
      await attempt(ADMIN_PASSWORD).expect(429);
      await request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', attacker).set('Authorization', basicAuth()).expect(429);
    });

    test('a success in between does not wipe earlier failures from the same address', async () => {
      const from = nextAddress();
      const call = (password: string) =>
        request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', from).set('Authorization', basicAuth(ADMIN_USER, password));
      for (let i = 0; i < 4; i++) await call(`guess-${i}`).expect(401);
      await call(ADMIN_PASSWORD).expect(200);
      await call('guess-4').expect(429);
    });

    test('logout ends the admin session; a copy of its cookie no longer works', async () => {
      const agent = site.agent();
      const csrf = await site.signIn(agent);
      const signedIn = await agent.get('/admin').expect(200);
      const copy = cookiesSet(signedIn).filter((c) => c.startsWith('sk_admin')).map((c) => c.split(';')[0]).join('; ');
      assert.match(copy, /sk_admin=.*; sk_admin\.sig=/);

      const out = await agent.post('/admin/logout').type('form').send({ csrf }).expect(303).expect('Location', '/admin/login?signedOut=1');
      assert.ok(cookiesSet(out).some((c) => /^sk_admin=;/.test(c)), 'the cookie is cleared');
      assert.match((await agent.get('/admin/login?signedOut=1').expect(200)).text, /You are signed out/);
      await agent.get('/admin').expect(303).expect('Location', '/admin/login');
      await request(site.app.callback()).get('/admin').set('Cookie', copy).expect(303).expect('Location', '/admin/login');
      await request(site.app.callback()).get('/admin/api/sessions').set('Cookie', copy).expect(401);
    });

    test('a tampered admin cookie is not a sign-in', async () => {
      const agent = site.agent();
      await site.signIn(agent);
      const res = await agent.get('/admin').expect(200);
      const signature = cookiesSet(res).find((c) => c.startsWith('sk_admin.sig='))!.split(';')[0];
      const forged = Buffer.from(JSON.stringify({ id: 'a'.repeat(43), u: ADMIN_USER, iat: Date.now(), exp: Date.now() + 60_000, csrf: 'b'.repeat(43), cred: 'c' })).toString('base64url');
      await request(site.app.callback()).get('/admin').set('Cookie', `sk_admin=${forged}; ${signature}`).expect(303);
    });

    test('the admin session never enters the visitor store: no visitor cookie, no extra session', async () => {
      const before = await site.store.count(Date.now());
      const agent = site.agent();
      const responses = [await agent.get('/admin/login')];
      await site.signIn(agent);
      responses.push(await agent.get('/admin'), await agent.get('/admin/end-all'), await agent.get('/admin/api/stats'));
      for (const res of responses) assert.ok(!cookiesSet(res).some((c) => /^sid(\.sig)?=/.test(c)), 'no visitor cookie');
      assert.equal(await site.store.count(Date.now()), before);
      const listed = await request(site.app.callback()).get('/admin/api/sessions').set('Authorization', basicAuth()).expect(200);
      assert.deepEqual(listed.body.sessions.map((s: { id: string }) => s.id).sort(), [...live].sort());
    });

    test('unknown dashboard paths are 404 (JSON under /admin/api); paths that only start with "admin" are not the dashboard', async () => {
      const agent = site.agent();
      await site.signIn(agent);
      const page = await agent.get('/admin/nothing-here').expect(404);
      assert.match(page.text, /There is no such dashboard page/);
      const api = await request(site.app.callback()).get('/admin/api/nothing').set('Authorization', basicAuth()).expect(404).expect('Content-Type', /json/);
      assert.equal(typeof api.body.error, 'string');
      const wrongMethod = await agent.get('/admin/purge-expired').expect(405).expect('Allow', 'POST');
      assert.match(wrongMethod.text, /does not accept GET requests/);
      const site404 = await request(site.app.callback()).get('/administrator').expect(404);
      assert.doesNotMatch(site404.text, /dashboard/);
    });
  });

  describe(`dashboard without ADMIN_PASSWORD (${kind} store)`, () => {
    let site: TestApp;
    let seeded: string[];

    before(async () => {
      site = await createTestApp(kind, { admin: { password: undefined } });
      seeded = await seedSessions(site.store, { count: 2 });
    });
    after(() => site.close());

    test('every dashboard route answers 503 and says how to set ADMIN_PASSWORD; nothing changes', async () => {
      for (const path of [...htmlGets, '/admin/login', '/admin/anything']) {
        const res = await request(site.app.callback()).get(path).set('Authorization', basicAuth()).expect(503).expect('Content-Type', /html/);
        assert.match(res.text, /The dashboard is disabled because it has no password\. Set ADMIN_PASSWORD/, path);
        assert.match(res.text, /ADMIN_PASSWORD=/, path);
        assert.ok(!cookiesSet(res).some((c) => c.startsWith('sk_admin')), 'no admin cookie');
      }
      for (const path of [...htmlPosts(seeded[0]!), '/admin/login']) {
        await request(site.app.callback()).post(path).type('form').send({ user: ADMIN_USER, password: ADMIN_PASSWORD }).expect(503);
      }
      for (const [method, path] of apiRoutes(seeded[0]!)) {
        const res = await request(site.app.callback())[method](path).set('Authorization', basicAuth()).expect(503).expect('Content-Type', /json/);
        assert.match(res.body.error, /^The dashboard is disabled because it has no password\. Set ADMIN_PASSWORD/, path);
      }
      assert.deepEqual(await idsStillStored(site.store, seeded), seeded);
    });

    test('the visitor site keeps working', async () => {
      await request(site.app.callback()).get('/').expect(200);
    });
  });
}
