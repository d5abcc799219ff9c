import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Koa from 'koa';
import request from 'supertest';
import { ADMIN_COOKIE, AdminSessions, type AdminSessionOptions } from '../../admin/admin-session.ts';

const KEYS = ['admin-session-test-key-0123456789'];
const OPTIONS: AdminSessionOptions = { user: 'admin', password: 'long enough secret', keys: KEYS, secure: false, idleTtlMs: 60_000, absoluteTtlMs: 150_000 };

/**
 * A Koa app driving AdminSessions: /start signs in, /read answers the session
 * (at `?now=`), /refresh slides it, /end signs out. `keys` are the app's keys.
 */
function appFor(sessions: AdminSessions, keys = KEYS) {
  const app = new Koa();
  app.keys = keys;
  app.proxy = true;
  app.use(async (ctx) => {
    const nowMs = ctx.query.now ? Number(ctx.query.now) : Date.now();
    const current = sessions.read(ctx, nowMs);
    if (ctx.path === '/admin/start') ctx.body = sessions.start(ctx, nowMs);
    else if (ctx.path === '/admin/refresh' && current) ctx.body = sessions.refresh(ctx, current, nowMs);
    else if (ctx.path === '/admin/end' && current) {
      sessions.end(ctx, current, nowMs);
      ctx.body = { ended: true };
    } else ctx.body = { session: current ?? null };
  });
  return app.callback();
}

function adminCookies(res: request.Response): string {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return cookies.filter((c) => c.startsWith(`${ADMIN_COOKIE}=`) || c.startsWith(`${ADMIN_COOKIE}.sig=`)).map((c) => c.split(';')[0]).join('; ');
}

describe('AdminSessions', () => {
  test('issues an HttpOnly, SameSite=Strict cookie on /admin that reads back as the same session', async () => {
    const app = appFor(new AdminSessions(OPTIONS));
    const started = await request(app).get('/admin/start?now=1000');
    const cookies = ([] as string[]).concat(started.headers['set-cookie'] ?? []);
    const main = cookies.find((c) => c.startsWith(`${ADMIN_COOKIE}=`))!;
    assert.match(main, /; path=\/admin/);
    assert.match(main, /; httponly/);
    assert.match(main, /; samesite=strict/);
    assert.doesNotMatch(main, /; secure/);
    assert.ok(cookies.some((c) => c.startsWith(`${ADMIN_COOKIE}.sig=`)), 'signed with the app keys');
    const read = await request(app).get('/admin/read?now=2000').set('Cookie', adminCookies(started));
    assert.deepEqual(read.body.session, started.body);
    assert.equal(started.body.user, 'admin');
    assert.match(started.body.csrfToken, /^[A-Za-z0-9_-]{43}$/);
  });

  test('Secure in production', async () => {
    const app = appFor(new AdminSessions({ ...OPTIONS, secure: true }));
    const started = await request(app).get('/admin/start').set('X-Forwarded-Proto', 'https');
    assert.match(adminCookieLine(started), /; secure/);
  });

  test('expires when idle, and never outlives the absolute limit however often it is refreshed', async () => {
    const app = appFor(new AdminSessions(OPTIONS));
    const started = await request(app).get('/admin/start?now=0');
    assert.equal((await request(app).get('/admin/read?now=60000').set('Cookie', adminCookies(started))).body.session, null);

    let cookies = adminCookies(started);
    for (const now of [50_000, 100_000]) {
      const refreshed = await request(app).get(`/admin/refresh?now=${now}`).set('Cookie', cookies);
      cookies = adminCookies(refreshed);
    }
    const last = await request(app).get('/admin/read?now=149000').set('Cookie', cookies);
    assert.equal(last.body.session.expiresAtMs, 150_000, 'capped at issue time + absolute TTL');
    assert.equal((await request(app).get('/admin/read?now=150000').set('Cookie', cookies)).body.session, null);
  });

  test('a tampered or unsigned cookie is no session', async () => {
    const app = appFor(new AdminSessions(OPTIONS));
    const started = await request(app).get('/admin/start');
    const [main, sig] = adminCookies(started).split('; ');
    const payload = JSON.parse(Buffer.from(main!.split('=')[1]!, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, exp: payload.exp + 86_400_000 })).toString('base64url');
    for (const cookie of [`${ADMIN_COOKIE}=${forged}; ${sig}`, main!, `${ADMIN_COOKIE}=garbage; ${sig}`]) {
      assert.equal((await request(app).get('/admin/read').set('Cookie', cookie)).body.session, null, cookie);
    }
  });

  test('logout revokes the token, also for a copy of the cookie', async () => {
    const sessions = new AdminSessions(OPTIONS);
    const app = appFor(sessions);
    const started = await request(app).get('/admin/start');
    const copy = adminCookies(started);
    const ended = await request(app).get('/admin/end').set('Cookie', copy);
    assert.match(adminCookieLine(ended), /^sk_admin=;/, 'the cookie is cleared');
    assert.equal((await request(app).get('/admin/read').set('Cookie', copy)).body.session, null);
  });

  test('a changed password or user ends every session', async () => {
    const started = await request(appFor(new AdminSessions(OPTIONS))).get('/admin/start');
    const cookies = adminCookies(started);
    assert.notEqual((await request(appFor(new AdminSessions(OPTIONS))).get('/admin/read').set('Cookie', cookies)).body.session, null);
    assert.equal((await request(appFor(new AdminSessions({ ...OPTIONS, password: 'another long secret' }))).get('/admin/read').set('Cookie', cookies)).body.session, null);
    assert.equal((await request(appFor(new AdminSessions({ ...OPTIONS, user: 'root' }))).get('/admin/read').set('Cookie', cookies)).body.session, null);
  });

  test('survives key rotation: a token from the old key is read while that key is still listed', async () => {
    const started = await request(appFor(new AdminSessions(OPTIONS))).get('/admin/start');
    const rotatedKeys = ['admin-session-new-key-0123456789', ...KEYS];
    const rotated = appFor(new AdminSessions({ ...OPTIONS, keys: rotatedKeys }), rotatedKeys);
    assert.notEqual((await request(rotated).get('/admin/read').set('Cookie', adminCookies(started))).body.session, null);
    const dropped = ['admin-session-new-key-0123456789'];
    assert.equal((await request(appFor(new AdminSessions({ ...OPTIONS, keys: dropped }), dropped)).get('/admin/read').set('Cookie', adminCookies(started))).body.session, null);
  });
});

function adminCookieLine(res: request.Response): string {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${ADMIN_COOKIE}=`)) ?? '';
}
