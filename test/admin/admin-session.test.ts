import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Koa from 'koa';
import request from 'supertest';
import { ADMIN_COOKIE, AdminSessions, type AdminSessionOptions } from '../../admin/admin-session.ts';
import { publicIdOf } from '../../middleware/ids.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { createNamespace, STORE_KINDS, type StoreNamespace } from '../helpers/store-fixtures.ts';

const KEYS = ['admin-session-test-key-0123456789'];
const OPTIONS = { user: 'admin', password: 'long enough secret', keys: KEYS, secure: false, cookiePath: '/admin', idleTtlMs: 60_000, absoluteTtlMs: 150_000 };

/**
 * A Koa app driving AdminSessions: /start signs in, /read answers the session
 * (at `?now=`, rolling it with `?roll=1`), /end signs out. `keys` are the app's keys.
 */
function appFor(sessions: AdminSessions, keys = KEYS) {
  const app = new Koa();
  app.keys = keys;
  app.proxy = true;
  app.use(async (ctx) => {
    const nowMs = ctx.query.now ? Number(ctx.query.now) : Date.now();
    if (ctx.path === '/admin/start') {
      ctx.body = await sessions.start(ctx, nowMs);
      return;
    }
    const current = await sessions.read(ctx, { nowMs, roll: ctx.query.roll === '1' });
    if (ctx.path === '/admin/end' && current) {
      await sessions.end(ctx, current);
      ctx.body = { ended: true };
    } else ctx.body = { session: current ?? null };
  });
  return app.callback();
}

function adminCookies(res: request.Response): string {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return cookies.filter((c) => c.startsWith(`${ADMIN_COOKIE}=`) || c.startsWith(`${ADMIN_COOKIE}.sig=`)).map((c) => c.split(';')[0]).join('; ');
}

function adminCookieLine(res: request.Response): string {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${ADMIN_COOKIE}=`)) ?? '';
}

for (const kind of STORE_KINDS) {
  describe(`AdminSessions kept in the ${kind} store`, () => {
    let namespace: StoreNamespace;
    const opened: SessionStore[] = [];
    /** A store over the test's namespace, as one more server process (or a restarted one) opens it. */
    const openStore = async () => {
      const store = namespace.open();
      await store.init();
      opened.push(store);
      const admin = store.withNamespace('admin');
      await admin.init();
      return admin;
    };
    /** AdminSessions as one process (or a restarted one) has them. */
    const processWith = async (options: Partial<AdminSessionOptions> = {}) => new AdminSessions({ ...OPTIONS, store: await openStore(), ...options });

    before(async () => {
      namespace = await createNamespace(kind);
    });
    after(async () => {
      for (const store of opened) await store.close();
      await namespace.remove();
    });

    test('issues an HttpOnly, SameSite=Strict cookie on /admin that reads back as the same session', async () => {
      const app = appFor(await processWith());
      const startAt = Date.now();
      const started = await request(app).get(`/admin/start?now=${startAt}`);
      const cookies = ([] as string[]).concat(started.headers['set-cookie'] ?? []);
      const main = cookies.find((c) => c.startsWith(`${ADMIN_COOKIE}=`))!;
      assert.match(main, /; path=\/admin/);
      assert.match(main, /; httponly/);
      assert.match(main, /; samesite=strict/);
      assert.doesNotMatch(main, /; secure/);
      assert.ok(cookies.some((c) => c.startsWith(`${ADMIN_COOKIE}.sig=`)), 'signed with the app keys');
      const read = await request(app).get(`/admin/read?now=${startAt + 1000}`).set('Cookie', adminCookies(started));
      assert.deepEqual(read.body.session, started.body);
      assert.equal(started.body.user, 'admin');
      assert.match(started.body.csrfToken, /^[A-Za-z0-9_-]{43}$/);
    });

    test('the store keys the sign-in by a digest: the cookie token is not in it', async () => {
      const store = await openStore();
      const started = await request(appFor(new AdminSessions({ ...OPTIONS, store }))).get('/admin/start');
      const token = /sk_admin=([^;]+)/.exec(adminCookies(started))![1]!;
      assert.equal(started.body.id, publicIdOf(token));
      assert.equal(await store.get(token, Date.now()), undefined, 'nothing is stored under the token itself');
      const stored = await store.get(publicIdOf(token), Date.now());
      assert.ok(stored, 'stored under its digest');
      assert.doesNotMatch(JSON.stringify(stored), new RegExp(token));
    });

    test('Secure in production', async () => {
      const app = appFor(await processWith({ secure: true }));
      const started = await request(app).get('/admin/start').set('X-Forwarded-Proto', 'https');
      assert.match(adminCookieLine(started), /; secure/);
    });

    test('expires when idle, and never outlives the absolute limit however often it is used', async () => {
      const app = appFor(await processWith());
      const startAt = Date.now();
      const started = await request(app).get(`/admin/start?now=${startAt}`);
      assert.equal((await request(app).get(`/admin/read?now=${startAt + 60_000}`).set('Cookie', adminCookies(started))).body.session, null);

      const used = await request(app).get(`/admin/start?now=${startAt}`);
      let cookies = adminCookies(used);
      for (const offset of [50_000, 100_000]) {
        const rolled = await request(app).get(`/admin/read?roll=1&now=${startAt + offset}`).set('Cookie', cookies);
        assert.equal(rolled.body.session.expiresAtMs, Math.min(startAt + offset + 60_000, startAt + 150_000));
        cookies = adminCookies(rolled);
      }
      const last = await request(app).get(`/admin/read?now=${startAt + 149_000}`).set('Cookie', cookies);
      assert.equal(last.body.session.expiresAtMs, startAt + 150_000, 'capped at issue time + absolute TTL');
      assert.equal((await request(app).get(`/admin/read?now=${startAt + 150_000}`).set('Cookie', cookies)).body.session, null);
    });

    test('a tampered, unsigned or unknown cookie is no session', async () => {
      const app = appFor(await processWith());
      const started = await request(app).get('/admin/start');
      const [main, sig] = adminCookies(started).split('; ');
      const otherToken = 'A'.repeat(43);
      for (const cookie of [`${ADMIN_COOKIE}=${otherToken}; ${sig}`, main!, `${ADMIN_COOKIE}=garbage; ${sig}`]) {
        assert.equal((await request(app).get('/admin/read').set('Cookie', cookie)).body.session, null, cookie);
      }
      const unknown = await request(appFor(await processWith())).get('/admin/start');
      await request(appFor(await processWith())).get('/admin/end').set('Cookie', adminCookies(unknown));
      assert.equal((await request(app).get('/admin/read').set('Cookie', adminCookies(unknown))).body.session, null, 'signed, but signed out');
    });

    test('signing out ends every copy of the cookie, in every process and after a restart', async () => {
      const first = appFor(await processWith());
      const second = appFor(await processWith());
      const started = await request(first).get('/admin/start');
      const copy = adminCookies(started);
      assert.notEqual((await request(second).get('/admin/read').set('Cookie', copy)).body.session, null, 'another process reads the sign-in');
      const ended = await request(first).get('/admin/end').set('Cookie', copy);
      assert.match(adminCookieLine(ended), /^sk_admin=;/, 'the cookie is cleared');
      assert.equal((await request(first).get('/admin/read').set('Cookie', copy)).body.session, null);
      assert.equal((await request(second).get('/admin/read?roll=1').set('Cookie', copy)).body.session, null, 'nor in the other process');
      const restarted = appFor(await processWith());
      const replay = await request(restarted).get('/admin/read?roll=1').set('Cookie', copy);
      assert.equal(replay.body.session, null, 'nor after a restart');
      assert.equal(adminCookieLine(replay), '', 'and it is not issued again');
    });

    test('a changed password or user ends every session', async () => {
      const started = await request(appFor(await processWith())).get('/admin/start');
      const cookies = adminCookies(started);
      assert.notEqual((await request(appFor(await processWith())).get('/admin/read').set('Cookie', cookies)).body.session, null);
      assert.equal((await request(appFor(await processWith({ password: 'another long secret' }))).get('/admin/read').set('Cookie', cookies)).body.session, null);
      assert.equal((await request(appFor(await processWith({ user: 'root' }))).get('/admin/read').set('Cookie', cookies)).body.session, null);
    });

    test('survives key rotation: a sign-in from the old key is read while that key is still listed', async () => {
      const started = await request(appFor(await processWith())).get('/admin/start');
      const rotatedKeys = ['admin-session-new-key-0123456789', ...KEYS];
      const rotated = appFor(await processWith({ keys: rotatedKeys }), rotatedKeys);
      assert.notEqual((await request(rotated).get('/admin/read').set('Cookie', adminCookies(started))).body.session, null);
      const dropped = ['admin-session-new-key-0123456789'];
      assert.equal((await request(appFor(await processWith({ keys: dropped }), dropped)).get('/admin/read').set('Cookie', adminCookies(started))).body.session, null);
    });
  });
}
