import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { createHmac } from 'node:crypto';
import { publicIdOf } from '../../middleware/ids.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { FaultyFileStore, unreachableStore } from '../helpers/failing-stores.ts';
import { createSessionApp, type SessionApp } from '../helpers/session-app.ts';
import { STORE_KINDS, createNamespace } from '../helpers/store-fixtures.ts';
import { TEST_KEYS } from '../helpers/test-settings.ts';

/** The raw session id and its signature cookie from a response. */
function sessionCookie(res: request.Response): { id: string; header: string } {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const sid = cookies.find((c) => c.startsWith('sid='));
  const sig = cookies.find((c) => c.startsWith('sid.sig='));
  assert.ok(sid && sig, `expected sid and sid.sig cookies, got ${JSON.stringify(cookies)}`);
  const id = sid.split(';')[0]!.slice('sid='.length);
  return { id, header: `${sid.split(';')[0]}; ${sig.split(';')[0]}` };
}

/** Keygrip's signature (HMAC-SHA1, base64url), as the cookies package computes it. */
function sign(data: string, key: string): string {
  return createHmac('sha1', key).update(data).digest('base64url');
}

/** A correctly signed cookie header for any value, as if the attacker knew the key. */
function signedCookie(value: string, key = TEST_KEYS[0]!): string {
  return `sid=${value}; sid.sig=${sign(`sid=${value}`, key)}`;
}

function collect(handle: SessionApp): LifecycleEvent[] {
  const seen: LifecycleEvent[] = [];
  handle.sessions.events.on('event', (e: LifecycleEvent) => seen.push(e));
  return seen;
}

for (const kind of STORE_KINDS) {
  describe(`session middleware on the ${kind} store`, () => {
    let handle: SessionApp;
    beforeEach(async () => {
      handle = await createSessionApp(kind);
    });
    afterEach(async () => {
      await handle.close();
    });

    test('stores data and reads it back on the next request', async () => {
      const events = collect(handle);
      const first = await request(handle.app.callback()).post('/write?name=ada').expect(200);
      const cookie = sessionCookie(first);
      const second = await request(handle.app.callback()).get('/read').set('Cookie', cookie.header).expect(200);
      assert.deepEqual(second.body.data, { name: 'ada' });
      assert.deepEqual(events.map((e) => [e.event, e.sid]), [['session.created', publicIdOf(cookie.id)]]);
    });

    test('ids carry 32 random bytes and cookies are HttpOnly, SameSite=Lax, signed, with an expiry', async () => {
      const res = await request(handle.app.callback()).post('/write?a=1').expect(200);
      const { id } = sessionCookie(res);
      assert.match(id, /^[A-Za-z0-9_-]{43}$/);
      const sid = ([] as string[]).concat(res.headers['set-cookie']).find((c) => c.startsWith('sid='))!;
      assert.match(sid, /; path=\//);
      assert.match(sid, /; expires=/);
      assert.match(sid, /; samesite=lax/);
      assert.match(sid, /; httponly/);
      assert.doesNotMatch(sid, /; secure/);
    });

    test('a visit that stores nothing writes nothing and sets no cookie', async () => {
      const res = await request(handle.app.callback()).get('/read').expect(200);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.equal(await handle.sessions.store.count(Date.now()), 0);
    });

    test('each request after the refresh interval pushes the idle expiry forward (rolling)', async () => {
      // A 3 s lifetime refreshes every 30 ms (see rolling-refresh.test.ts for the interval itself).
      const rolling = await createSessionApp(kind, { sessions: { idleTtlMs: 3_000 } });
      try {
        const first = await request(rolling.app.callback()).post('/write?a=1').expect(200);
        const cookie = sessionCookie(first);
        const id = publicIdOf(cookie.id);
        const before = (await rolling.sessions.store.get(id, Date.now()))!;
        await sleep(60);
        const read = await request(rolling.app.callback()).get('/read').set('Cookie', cookie.header).expect(200);
        const after = (await rolling.sessions.store.get(id, Date.now()))!;
        assert.ok(after.expiresAt > before.expiresAt, 'expiry moved forward');
        assert.ok(after.lastSeenAt > before.lastSeenAt, 'last seen moved forward');
        assert.equal(after.createdAt, before.createdAt);
        assert.deepEqual(after.data, { a: '1' });
        assert.equal(sessionCookie(read).id, cookie.id, 'the cookie is sent again with the same id and a new expiry');
      } finally {
        await rolling.close();
      }
    });

    test('a session ended by the visitor is gone and logged as destroyed by user', async () => {
      const events = collect(handle);
      const cookie = sessionCookie(await request(handle.app.callback()).post('/write?a=1'));
      const res = await request(handle.app.callback()).post('/forget').set('Cookie', cookie.header).expect(204);
      assert.match(([] as string[]).concat(res.headers['set-cookie']).join(), /sid=;/, 'cookie cleared');
      assert.equal(await handle.sessions.store.get(publicIdOf(cookie.id), Date.now()), undefined);
      const read = await request(handle.app.callback()).get('/read').set('Cookie', cookie.header).expect(200);
      assert.deepEqual(read.body.data, {});
      assert.deepEqual(events.at(-1), { ...events.at(-1), event: 'session.destroyed', by: 'user', sid: publicIdOf(cookie.id), store: kind });
    });

    test('a rolling refresh in flight cannot bring back a session an operator destroyed', async () => {
      const cookie = sessionCookie(await request(handle.app.callback()).post('/write?a=1'));
      const id = publicIdOf(cookie.id);
      const inFlight = request(handle.app.callback()).post('/wait').set('Cookie', cookie.header).then((r) => r);
      await handle.parked();
      assert.equal(await handle.sessions.store.destroy(id), true);
      handle.release();
      await inFlight;
      assert.equal(await handle.sessions.store.get(id, Date.now()), undefined);
    });

    test('regeneration issues a new id, keeps the data and removes the old id', async () => {
      const events = collect(handle);
      const first = sessionCookie(await request(handle.app.callback()).post('/write?cart=3'));
      const res = await request(handle.app.callback()).post('/regenerate').set('Cookie', first.header).expect(200);
      const second = sessionCookie(res);
      assert.notEqual(second.id, first.id);
      assert.deepEqual(res.body.data, { cart: '3' });
      assert.equal(await handle.sessions.store.get(publicIdOf(first.id), Date.now()), undefined);
      assert.deepEqual((await handle.sessions.store.get(publicIdOf(second.id), Date.now()))?.data, { cart: '3' });
      const regenerated = events.find((e) => e.event === 'session.regenerated');
      assert.equal(regenerated?.sid, publicIdOf(second.id));
      assert.equal(regenerated?.previousSid, publicIdOf(first.id));
      assert.ok(!events.some((e) => e.event === 'session.destroyed'), 'regeneration is not logged as a destroy');
    });

    test('regeneration keeps the absolute lifetime of the session it renames', async () => {
      const first = sessionCookie(await request(handle.app.callback()).post('/write?cart=3'));
      const before = (await handle.sessions.store.get(publicIdOf(first.id), Date.now()))!;
      await sleep(20);
      const second = sessionCookie(await request(handle.app.callback()).post('/regenerate').set('Cookie', first.header).expect(200));
      const after = (await handle.sessions.store.get(publicIdOf(second.id), Date.now()))!;
      assert.equal(after.createdAt, before.createdAt);
    });

    test('forged, unsigned and malformed cookies get a fresh session and cost no store write', async () => {
      const legit = sessionCookie(await request(handle.app.callback()).post('/write?owner=victim'));
      const forged = [
        `sid=${legit.id}`, // unsigned
        `sid=${legit.id}; sid.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA`, // wrong signature
        `sid=${legit.id}; sid.sig=${sign(`sid=${legit.id}`, 'some-other-key-0123456789')}`, // another key
        signedCookie('../../etc/passwd'), // signed but not an id we issue
        signedCookie('x'.repeat(4096)),
        signedCookie(encodeURIComponent('\u0000\u00ff%%')),
        `sid=${'%'.repeat(4000)}; sid.sig=junk`,
      ];
      for (const header of forged) {
        const res = await request(handle.app.callback()).get('/read').set('Cookie', header).expect(200);
        assert.deepEqual(res.body.data, {}, header.slice(0, 40));
      }
      assert.equal(await handle.sessions.store.count(Date.now()), 1, 'no session was written for them');
    });

    test('cookies signed with an older key still verify (key rotation)', async () => {
      const legit = sessionCookie(await request(handle.app.callback()).post('/write?a=rotated'));
      const res = await request(handle.app.callback()).get('/read').set('Cookie', signedCookie(legit.id, TEST_KEYS[1])).expect(200);
      assert.deepEqual(res.body.data, { a: 'rotated' });
    });

    test('the raw id never reaches the store or the logs', async () => {
      const { id } = sessionCookie(await request(handle.app.callback()).post('/write?a=1'));
      await request(handle.app.callback()).post('/forget').set('Cookie', signedCookie(id));
      const page = await handle.sessions.store.list({ limit: 10, sort: 'expiry', now: Date.now() });
      assert.ok(!JSON.stringify(page).includes(id));
      assert.ok(!handle.logs.text().includes(id), 'raw id absent from logs');
      assert.ok(handle.logs.text().includes(publicIdOf(id)), 'public id present in logs');
      if (kind === 'file') {
        // Session files and the shared event log's segments and tallies alike.
        await handle.sessions.events.flushed();
        const dir = handle.namespace.settings.fileDir!;
        const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
        assert.ok(files.some((entry) => entry.parentPath.endsWith('.events')), 'the event log is among the files read');
        for (const entry of files) {
          assert.ok(!entry.name.includes(id));
          assert.ok(!(await readFile(join(entry.parentPath, entry.name), 'utf8')).includes(id));
        }
      }
    });

    test('the sweeper removes and logs each expired session once', async () => {
      const events = collect(handle);
      const now = Date.now();
      const ids = [publicIdOf('a'.repeat(43)), publicIdOf('b'.repeat(43))];
      for (const id of ids) await handle.sessions.store.create(id, { data: {}, createdAt: now - 5_000, lastSeenAt: now - 5_000, expiresAt: now - 1_000 });
      assert.deepEqual(await handle.sessions.sweeper.sweepNow(), { expired: 2, evicted: 0 });
      assert.deepEqual(await handle.sessions.sweeper.sweepNow(), { expired: 0, evicted: 0 });
      assert.deepEqual(events.filter((e) => e.event === 'session.expired').map((e) => e.sid).sort(), [...ids].sort());
      const logged = handle.logs.text().split('\n').filter((line) => line.includes('"event":"session.expired"'));
      assert.equal(logged.length, 2);
      for (const line of logged) assert.match(line, /"store":"\w+","at":"\d{4}-\d\d-\d\dT/);
    });
  });
}

describe('session lifetime', () => {
  test('an idle session expires on the server, even before it is swept', async () => {
    const handle = await createSessionApp('file', { sessions: { idleTtlMs: 1_000, absoluteTtlMs: 0 } });
    try {
      const cookie = sessionCookie(await request(handle.app.callback()).post('/write?a=1'));
      await sleep(1_100);
      const res = await request(handle.app.callback()).get('/read').set('Cookie', cookie.header).expect(200);
      assert.deepEqual(res.body.data, {});
    } finally {
      await handle.close();
    }
  });

  test('the absolute limit ends a session however active it is', async () => {
    const handle = await createSessionApp('redis', { sessions: { idleTtlMs: 2_000, absoluteTtlMs: 3_000 } });
    try {
      const cookie = sessionCookie(await request(handle.app.callback()).post('/write?a=1'));
      const started = Date.now();
      while (Date.now() - started < 2_600) {
        const res = await request(handle.app.callback()).get('/read').set('Cookie', cookie.header).expect(200);
        assert.deepEqual(res.body.data, { a: '1' }, 'alive while active and under the absolute limit');
        await sleep(400);
      }
      await sleep(Math.max(0, started + 3_100 - Date.now()));
      const res = await request(handle.app.callback()).get('/read').set('Cookie', cookie.header).expect(200);
      assert.deepEqual(res.body.data, {});
    } finally {
      await handle.close();
    }
  });

  test('browser cookies carry no expiry but get the same server-side TTL', async () => {
    const handle = await createSessionApp('postgres', { sessions: { cookieType: 'browser', idleTtlMs: 60_000 } });
    try {
      const res = await request(handle.app.callback()).post('/write?a=1').expect(200);
      const sid = ([] as string[]).concat(res.headers['set-cookie']).find((c) => c.startsWith('sid='))!;
      assert.doesNotMatch(sid, /expires=/);
      const record = await handle.sessions.store.get(publicIdOf(sessionCookie(res).id), Date.now());
      assert.ok(record && record.expiresAt - record.lastSeenAt === 60_000);
      const again = await request(handle.app.callback()).get('/read').set('Cookie', sessionCookie(res).header).expect(200);
      assert.deepEqual(again.body.data, { a: '1' });
    } finally {
      await handle.close();
    }
  });

  test('a changed session written by a request in flight stays destroyed', async () => {
    const handle = await createSessionApp('postgres');
    try {
      const cookie = sessionCookie(await request(handle.app.callback()).post('/write?a=1'));
      const inFlight = request(handle.app.callback()).post('/wait?write=late').set('Cookie', cookie.header).then((r) => r);
      await handle.parked();
      await request(handle.app.callback()).post('/forget').set('Cookie', cookie.header).expect(204);
      handle.release();
      await inFlight;
      assert.equal(await handle.sessions.store.get(publicIdOf(cookie.id), Date.now()), undefined);
    } finally {
      await handle.close();
    }
  });

  test('the session cap evicts the sessions nearest to expiry and logs them', async () => {
    const handle = await createSessionApp('file', { sessions: { maxCount: 2 } });
    try {
      const evicted: string[] = [];
      handle.sessions.events.on('session.evicted', (e: LifecycleEvent) => evicted.push(e.sid!));
      const now = Date.now();
      const ids = ['a', 'b', 'c', 'd'].map((c) => publicIdOf(c.repeat(43)));
      for (const [i, id] of ids.entries()) await handle.sessions.store.create(id, { data: {}, createdAt: now, lastSeenAt: now, expiresAt: now + (i + 1) * 60_000 });
      assert.deepEqual(await handle.sessions.sweeper.sweepNow(), { expired: 0, evicted: 2 });
      assert.deepEqual(evicted.sort(), [ids[0], ids[1]].sort());
      assert.equal(await handle.sessions.store.count(Date.now()), 2);
    } finally {
      await handle.close();
    }
  });

  test('production cookies are Secure behind a trusted TLS proxy', async () => {
    const handle = await createSessionApp('file', { sessions: { production: true }, proxy: true });
    try {
      const res = await request(handle.app.callback()).post('/write?a=1').set('X-Forwarded-Proto', 'https').expect(200);
      const sid = ([] as string[]).concat(res.headers['set-cookie']).find((c) => c.startsWith('sid='))!;
      assert.match(sid, /; secure/);
    } finally {
      await handle.close();
    }
  });
});

describe('when the store does not answer', () => {
  test('a request that needs its session gets 503 within 5 s, logged once, and the process carries on', async () => {
    const handle = await createSessionApp('redis', { store: unreachableStore('redis') });
    try {
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const res = await request(handle.app.callback()).post('/write?a=1');
        assert.equal(res.status, 503);
        assert.match(res.text, /session store is not answering/);
        assert.ok(Date.now() - started < 5_000);
        const withCookie = await request(handle.app.callback()).get('/read').set('Cookie', signedCookie('A'.repeat(43)));
        assert.equal(withCookie.status, 503);
      }
      const lines = handle.logs.text().split('\n').filter((l) => l.includes('session store unavailable'));
      assert.equal(lines.length, 1, 'the cause is logged once, not per request');
    } finally {
      await handle.close();
    }
  });
});

describe('a slow store', () => {
  test('a request that reads and then writes gets its 503 within 5 s in all, not per store call', async () => {
    const namespace = await createNamespace('file');
    const store = new FaultyFileStore({ dir: namespace.settings.fileDir! });
    const handle = await createSessionApp('file', { namespace, store });
    try {
      const cookie = sessionCookie(await request(handle.app.callback()).post('/write?a=1').expect(200));
      // Reads take 2.8 s and writes never finish.
      store.readDelayMs = 2_800;
      store.writesHang = true;
      const started = Date.now();
      const res = await request(handle.app.callback()).post('/write?a=2').set('Cookie', cookie.header);
      const elapsedMs = Date.now() - started;
      assert.equal(res.status, 503);
      assert.ok(elapsedMs < 5_000, `answered after ${elapsedMs} ms`);
      assert.ok(elapsedMs >= 4_000, `the read got its time and the write the rest (${elapsedMs} ms)`);
    } finally {
      store.readDelayMs = 0;
      store.writesHang = false;
      await handle.close();
      await namespace.remove();
    }
  });
});

describe('a store that reads but refuses writes', () => {
  test('rolling reads count as writes: a working listing does not make the outage log again and again', async () => {
    const namespace = await createNamespace('file');
    const store = new FaultyFileStore({ dir: namespace.settings.fileDir! });
    const handle = await createSessionApp('file', { namespace, store });
    try {
      const cookie = sessionCookie(await request(handle.app.callback()).post('/write?a=1').expect(200));
      // The disk turns read-only: every write, including a rolling read, fails.
      store.readOnly = true;
      for (let i = 0; i < 3; i++) {
        await request(handle.app.callback()).get('/read').set('Cookie', cookie.header).expect(503);
        await handle.sessions.store.list({ limit: 5, sort: 'expiry', now: Date.now() }); // the dashboard still lists
      }
      const lines = handle.logs.text().split('\n');
      assert.equal(lines.filter((l) => l.includes('session store unavailable')).length, 1);
      assert.equal(lines.filter((l) => l.includes('session store answering again')).length, 0);
    } finally {
      await handle.close();
      await namespace.remove();
    }
  });
});
