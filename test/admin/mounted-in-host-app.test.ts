/**
 * The dashboard as a user mounts it: in a Koa app of their own, under a prefix
 * of their choosing, next to their own headers, error handler and routes. It
 * must bring everything it needs under its prefix and touch nothing outside it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import request from 'supertest';
import { createSessionkeeper, sessionPublicId, type Sessionkeeper } from '../../middleware/index.ts';
import { createAdmin } from '../../admin/index.ts';

const PREFIX = '/ops/sessions';
const USER = 'ops';
const PASSWORD = 'host-app-password-123';
const HOST_CSP = 'default-src *';

interface HostApp {
  app: Koa;
  sessions: Sessionkeeper;
  close(): Promise<void>;
}

/**
 * A host app with habits of its own: it sets a loose CSP and SAMEORIGIN framing on everything, answers its
 * errors as plain text, has a route at /admin of its own and, when given one, parses every body first.
 */
async function hostApp(adminOptions: Parameters<typeof createAdmin>[1], bodyParser?: Koa.Middleware, production = false): Promise<HostApp> {
  const dir = await mkdtemp(join(tmpdir(), 'sessionkeeper-host-'));
  const app = new Koa();
  app.proxy = production;
  const sessions = await createSessionkeeper(app, {
    store: 'file', fileDir: dir, keys: ['host-app-key-0123456789abcdef-0123456789'], sweepIntervalMs: 3_600_000, logLevel: 'silent', production,
  });
  app.use(async (ctx, next) => {
    ctx.set('Content-Security-Policy', HOST_CSP);
    ctx.set('X-Frame-Options', 'SAMEORIGIN');
    try {
      await next();
    } catch (err) {
      ctx.status = (err as { status?: number }).status ?? 500;
      ctx.body = 'HOST ERROR';
    }
  });
  if (bodyParser) app.use(bodyParser);
  app.use(createAdmin(sessions, adminOptions));
  app.use(sessions.middleware);
  app.use((ctx) => {
    if (ctx.path === '/admin') {
      ctx.body = 'the host app\'s own /admin';
      return;
    }
    if (ctx.path !== '/') ctx.throw(404);
    // A session this request starts has no id until it is saved: `new` says the visitor had none.
    ctx.body = sessionPublicId(ctx) ?? 'new';
    ctx.session!.cart = ['tea'];
  });
  return {
    app,
    sessions,
    async close() {
      await sessions.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function cookiesOf(res: request.Response): string[] {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []);
}

describe(`the dashboard mounted at ${PREFIX} in a host app`, () => {
  let host: HostApp;
  before(async () => {
    host = await hostApp({ path: PREFIX, user: USER, password: PASSWORD });
  });
  after(() => host.close());

  test('its pages carry its own security headers, not the host\'s, and link its assets under the prefix', async () => {
    const res = await request(host.app.callback()).get(`${PREFIX}/login`).expect(200);
    const csp = res.headers['content-security-policy'] ?? '';
    assert.notEqual(csp, HOST_CSP);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(res.text, new RegExp(`href="${PREFIX}/static/style.css"`));
    assert.match(res.text, new RegExp(`action="${PREFIX}/login"`));
    for (const cookie of cookiesOf(res)) assert.match(cookie, new RegExp(`path=${PREFIX};`), 'admin cookies go to the prefix only');
    for (const asset of ['style.css', 'admin.css', 'admin.js', 'favicon.svg']) {
      await request(host.app.callback()).get(`${PREFIX}/static/${asset}`).expect(200);
    }
  });

  test('its errors are its own answers, a page or JSON, never the host\'s handler', async () => {
    const page = await request(host.app.callback()).get(`${PREFIX}/no/such/page`).expect(404).expect('Content-Type', /html/);
    assert.match(page.text, /There is no such dashboard page/);
    assert.match(page.headers['content-security-policy'] ?? '', /default-src 'self'/);
    const api = await request(host.app.callback()).get(`${PREFIX}/api/sessions`).expect(401).expect('Content-Type', /json/);
    assert.match(api.body.error, /Authentication required/);
    const wrongMethod = await request(host.app.callback()).put(`${PREFIX}/api/stats`).set('Authorization', basic()).expect(405);
    assert.match(wrongMethod.headers.allow ?? '', /GET/);
    assert.match(wrongMethod.body.error, /does not accept PUT/);
  });

  test('paths outside the prefix stay the host\'s: its /admin, its pages and headers', async () => {
    const own = await request(host.app.callback()).get('/admin').expect(200);
    assert.equal(own.text, "the host app's own /admin");
    assert.equal(own.headers['content-security-policy'], HOST_CSP);
    await request(host.app.callback()).get(`${PREFIX}x`).expect(404, 'HOST ERROR');
    await request(host.app.callback()).get('/static/style.css').expect(404, 'HOST ERROR');
  });

  test('a visitor\'s session shows on the dashboard and in the API under the prefix, and ending it there ends it', async () => {
    const visit = await request(host.app.callback()).get('/').expect(200, 'new');
    const visitorCookie = cookiesOf(visit).map((c) => c.split(';')[0]).join('; ');
    const publicId = (await request(host.app.callback()).get('/').set('Cookie', visitorCookie).expect(200)).text;
    assert.match(publicId, /^[A-Za-z0-9_-]{20,}$/);

    const operator = request.agent(host.app.callback());
    const login = await operator.get(`${PREFIX}/login`).expect(200);
    await operator
      .post(`${PREFIX}/login`)
      .type('form')
      .send({ csrf: hiddenCsrf(login.text), user: USER, password: PASSWORD })
      .expect(303)
      .expect('Location', PREFIX);
    const dashboard = await operator.get(PREFIX).expect(200);
    assert.ok(dashboard.text.includes(`action="${PREFIX}/sessions/${publicId}/end"`), 'the session is listed with its end form');

    const listed = await request(host.app.callback()).get(`${PREFIX}/api/sessions`).set('Authorization', basic()).expect(200);
    assert.deepEqual(listed.body.sessions.map((s: { id: string }) => s.id), [publicId]);
    assert.deepEqual(listed.body.sessions[0].keys, ['cart']);

    await operator
      .post(`${PREFIX}/sessions/${publicId}/end`)
      .type('form')
      .send({ csrf: hiddenCsrf(dashboard.text) })
      .expect(303)
      .expect('Location', `${PREFIX}?done=ended&sid=${publicId}`);
    await request(host.app.callback()).delete(`${PREFIX}/api/sessions/${publicId}`).set('Authorization', basic()).expect(404);
    // The old cookie no longer names a session.
    await request(host.app.callback()).get('/').set('Cookie', visitorCookie).expect(200, 'new');
  });
});

describe('the dashboard without a password', () => {
  let host: HostApp;
  before(async () => {
    host = await hostApp({ path: PREFIX });
  });
  after(() => host.close());

  test('every route under its prefix answers 503 saying how to set one; the rest of the app works', async () => {
    const page = await request(host.app.callback()).get(`${PREFIX}/login`).expect(503);
    assert.match(page.text, /has no password/);
    const api = await request(host.app.callback()).get(`${PREFIX}/api/stats`).expect(503).expect('Content-Type', /json/);
    assert.match(api.body.error, /ADMIN_PASSWORD/);
    await request(host.app.callback()).get('/').expect(200);
  });
});

test('in production the dashboard adds no HSTS: binding the host\'s whole domain to HTTPS is the app\'s call', async () => {
  const host = await hostApp({ path: PREFIX, user: USER, password: PASSWORD }, undefined, true);
  try {
    const res = await request(host.app.callback()).get(`${PREFIX}/login`).set('X-Forwarded-Proto', 'https').expect(200);
    assert.match(res.headers['content-security-policy'] ?? '', /upgrade-insecure-requests/);
    assert.equal(res.headers['strict-transport-security'], undefined);
    for (const cookie of cookiesOf(res)) assert.match(cookie, /; secure/);
  } finally {
    await host.close();
  }
});

test('signing in works when the host app parses every body before the dashboard', async () => {
  const host = await hostApp({ path: PREFIX, user: USER, password: PASSWORD }, koaBody());
  try {
    const operator = request.agent(host.app.callback());
    const login = await operator.get(`${PREFIX}/login`).expect(200);
    await operator.post(`${PREFIX}/login`).type('form').send({ csrf: hiddenCsrf(login.text), user: USER, password: PASSWORD }).expect(303).expect('Location', PREFIX);
    await operator.get(PREFIX).expect(200);
  } finally {
    await host.close();
  }
});


function basic(): string {
  return `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
}

function hiddenCsrf(html: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(token, 'the page has a CSRF field');
  return token;
}
