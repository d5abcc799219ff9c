/**
 * Security events: failed and successful admin sign-ins, lockouts, refused
 * cross-site requests and session cookies we did not issue are each a `warn`
 * line with public facts only, rate-limited so a flood cannot flood the log.
 * The lines do not depend on the store, so the file store is enough here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Koa from 'koa';
import request from 'supertest';
import { SecurityLog } from '../../middleware/security-log.ts';
import { basicAuth, csrfTokenIn } from '../helpers/dashboard-client.ts';
import { captureLogs } from '../helpers/log-capture.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../helpers/test-settings.ts';
import { cookieHeaderOf, textFileForm } from '../helpers/upload-forms.ts';

const WARN = 40;
type Line = Record<string, unknown> & { level: number; event?: string };

function linesOf(site: TestApp): Line[] {
  return site.logs.lines() as Line[];
}

/** The security lines of `event` logged since `from` lines. */
function securityLines(site: TestApp, event: string, from = 0): Line[] {
  return linesOf(site).slice(from).filter((line) => line.event === event && line.msg === event);
}

describe('security events in the log', () => {
  let site: TestApp;
  before(async () => {
    site = await createTestApp('file', { server: { trustProxy: true } });
  });
  after(() => site.close());

  test('a failed sign-in is a warn line with the address and never the password; the lockout is one too', async () => {
    const from = linesOf(site).length;
    for (let i = 0; i < 5; i++) {
      await request(site.app.callback()).get('/admin/api/stats').set('X-Forwarded-For', '192.0.2.10').set('Authorization', basicAuth(ADMIN_USER, `hunter${i}-secret`));
    }
    const failed = securityLines(site, 'admin.sign_in_failed', from);
    assert.equal(failed.length, 5);
    for (const line of failed) {
      assert.equal(line.level, WARN);
      assert.equal(line.ip, '192.0.2.10');
      assert.equal(line.path, '/admin/api/stats');
    }
    const locked = securityLines(site, 'admin.locked_out', from);
    assert.equal(locked.length, 1);
    assert.equal(locked[0]!.scope, 'address');
    assert.ok(Number(locked[0]!.retryAfterSeconds) > 0);
    assert.doesNotMatch(site.logs.text().split('\n').slice(from).join('\n'), /hunter\d-secret|aHVudGVy/, 'no password, raw or in base64');
  });

  test('signing in and out through the form are warn lines naming the user, never a token or cookie', async () => {
    const from = linesOf(site).length;
    const agent = request.agent(site.app.callback());
    const loginPage = await agent.get('/admin/login').expect(200);
    const signedIn = await agent.post('/admin/login').type('form').send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password: ADMIN_PASSWORD }).expect(303);
    const csrf = csrfTokenIn((await agent.get('/admin').expect(200)).text);
    await agent.post('/admin/logout').type('form').send({ csrf }).expect(303);
    const [inLine] = securityLines(site, 'admin.signed_in', from);
    const [outLine] = securityLines(site, 'admin.signed_out', from);
    assert.equal(inLine?.user, ADMIN_USER);
    assert.equal(inLine?.level, WARN);
    assert.equal(outLine?.user, ADMIN_USER);
    const token = /sk_admin=([^;]+)/.exec(([] as string[]).concat(signedIn.headers['set-cookie'] ?? []).join(';'))![1]!;
    const logged = site.logs.text().split('\n').slice(from).join('\n');
    assert.ok(!logged.includes(token), 'the admin token is not logged');
    assert.ok(!logged.includes(csrf), 'the CSRF token is not logged');
  });

  test('a dashboard form without its CSRF token and a cross-site post on the site are request.csrf_refused', async () => {
    const agent = request.agent(site.app.callback());
    const loginPage = await agent.get('/admin/login').expect(200);
    await agent.post('/admin/login').type('form').send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password: ADMIN_PASSWORD }).expect(303);
    const from = linesOf(site).length;
    await agent.post('/admin/purge-expired').type('form').send({ csrf: 'not the token' }).expect(403);
    await request(site.app.callback()).post('/forget').set('Origin', 'https://evil.example').expect(403);
    const refused = securityLines(site, 'request.csrf_refused', from);
    assert.deepEqual(refused.map((line) => [line.path, line.reason]), [['/admin/purge-expired', 'wrong token'], ['/forget', 'another origin']]);
    assert.ok(refused.every((line) => line.level === WARN));
    assert.ok(!site.logs.text().includes('not the token'), 'what the client sent is not logged');
  });

  test('a session cookie with a wrong signature or none is session.cookie_rejected; a first visit and a valid cookie are not', async () => {
    const form = textFileForm('x');
    const upload = await request(site.app.callback()).post('/').set('Content-Type', form.contentType).send(form.body).expect(303);
    const real = cookieHeaderOf(upload);
    const rawId = /sid=([^;]+)/.exec(real)![1]!;
    const from = linesOf(site).length;
    await request(site.app.callback()).get('/').expect(200);
    await request(site.app.callback()).get('/').set('Cookie', real).expect(200);
    assert.equal(securityLines(site, 'session.cookie_rejected', from).length, 0, 'neither a first visit nor a valid cookie');
    await request(site.app.callback()).get('/').set('Cookie', `sid=${rawId}`).expect(200);
    await request(site.app.callback()).get('/').set('Cookie', `sid=${rawId}; sid.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA`).expect(200);
    const rejected = securityLines(site, 'session.cookie_rejected', from);
    assert.equal(rejected.length, 2);
    assert.ok(rejected.every((line) => line.level === WARN && line.reason === 'bad or missing signature'));
    assert.ok(!site.logs.text().split('\n').slice(from).join('\n').includes(rawId), 'the cookie value is not logged');
  });
});

describe('SecurityLog rate limit', () => {
  test('at most N lines of one kind a minute; the next line written says how many were left out', () => {
    const logs = captureLogs('info');
    const log = new SecurityLog(logs.logger, 3);
    const app = new Koa();
    const ctx = app.createContext({ headers: {}, method: 'GET', url: '/x', socket: { remoteAddress: '192.0.2.1' } } as never, {} as never);
    const written = Array.from({ length: 10 }, () => log.warn('session.cookie_rejected', ctx, {}, 1_000));
    assert.deepEqual(written, [true, true, true, false, false, false, false, false, false, false]);
    assert.equal(log.warn('request.csrf_refused', ctx, {}, 1_000), true, 'each kind has its own limit');
    assert.equal(log.warn('session.cookie_rejected', ctx, {}, 61_000), true, 'a new minute');
    const rejected = logs.lines().filter((line) => line.event === 'session.cookie_rejected');
    assert.equal(rejected.length, 4);
    assert.equal(rejected[3]!.suppressed, 7);
    assert.equal(rejected[0]!.suppressed, undefined);
  });
});
