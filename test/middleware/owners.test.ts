/**
 * Owners through the middleware, on every store: setSessionOwner at sign-in,
 * the library's owner calls in and outside a request, the events they record,
 * the cap per owner and device facts. Store-level index behaviour is the
 * conformance suite's (test/conformance/owner-suite.ts).
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { publicIdOf } from '../../middleware/ids.ts';
import { openSessionkeeper } from '../../middleware/sessionkeeper.ts';
import { MAX_OWNER_LENGTH, ownerDigest } from '../../middleware/store.ts';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitUntil } from '../helpers/wait.ts';
import { createSessionApp, type SessionApp } from '../helpers/session-app.ts';
import { silentLogger } from '../helpers/log-capture.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { testSessionOptions } from '../helpers/test-settings.ts';

/** The session cookie pair of a response, as a Cookie header, and the raw id in it. */
function cookieOf(res: request.Response): { raw: string; header: string } {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const sid = cookies.find((c) => c.startsWith('sid=') && !c.startsWith('sid=;'));
  const sig = cookies.find((c) => c.startsWith('sid.sig='));
  assert.ok(sid && sig, `expected a session cookie, got ${JSON.stringify(cookies)}`);
  return { raw: sid.split(';')[0]!.slice('sid='.length), header: `${sid.split(';')[0]}; ${sig.split(';')[0]}` };
}

function collect(handle: SessionApp): LifecycleEvent[] {
  const events: LifecycleEvent[] = [];
  handle.sessions.events.on('event', (event: LifecycleEvent) => events.push(event));
  return events;
}

for (const kind of STORE_KINDS) {
  describe(`owners through the middleware (${kind})`, () => {
    let handle: SessionApp;
    let events: LifecycleEvent[];
    const http = () => request(handle.app.callback());

    /** A visitor with data in an anonymous session, then signed in as `owner`: the signed-in cookie. */
    async function signIn(owner: string, userAgent = 'test-agent'): Promise<{ raw: string; header: string; id: string }> {
      const first = cookieOf(await http().post('/write?basket=3').set('User-Agent', userAgent).expect(200));
      const res = await http().post(`/owner?owner=${encodeURIComponent(owner)}`).set('Cookie', first.header).set('User-Agent', userAgent).expect(200);
      const signedIn = cookieOf(res);
      return { ...signedIn, id: publicIdOf(signedIn.raw) };
    }

    beforeEach(async () => {
      handle = await createSessionApp(kind);
      events = collect(handle);
    });
    afterEach(async () => {
      await handle.close();
    });

    test('signing in gives the session a new id that carries the owner, and keeps its data', async () => {
      const anonymous = cookieOf(await http().post('/write?basket=3').expect(200));
      const res = await http().post('/owner?owner=ada').set('Cookie', anonymous.header).expect(200);
      const signedIn = cookieOf(res);
      assert.notEqual(signedIn.raw, anonymous.raw, 'a login regenerates the id');
      assert.deepEqual(res.body.data, { basket: '3' });
      assert.equal(res.body.owner, 'ada');
      assert.deepEqual((await http().get('/read').set('Cookie', anonymous.header).expect(200)).body.data, {}, 'the old id is gone');
      assert.deepEqual((await http().get('/whoami').set('Cookie', signedIn.header).expect(200)).body, { owner: 'ada', id: publicIdOf(signedIn.raw) });
      const regenerated = events.find((event) => event.event === 'session.regenerated');
      assert.deepEqual([regenerated?.sid, regenerated?.previousSid, regenerated?.owner], [publicIdOf(signedIn.raw), publicIdOf(anonymous.raw), 'ada']);
      assert.deepEqual((await handle.sessions.listOwnerSessions('ada')).map((session) => session.id), [publicIdOf(signedIn.raw)]);
    });

    test('signing in without a session creates one for the owner; the same owner again changes nothing; another owner regenerates', async () => {
      const res = await http().post('/owner?owner=ada').expect(200);
      const first = cookieOf(res);
      const created = events.find((event) => event.event === 'session.created');
      assert.deepEqual([created?.sid, created?.owner], [publicIdOf(first.raw), 'ada']);
      const again = await http().post('/owner?owner=ada').set('Cookie', first.header).expect(200);
      assert.equal(again.body.id, publicIdOf(first.raw), 'same owner: same id');
      const other = cookieOf(await http().post('/owner?owner=grace').set('Cookie', first.header).expect(200));
      assert.notEqual(other.raw, first.raw);
      assert.deepEqual(await handle.sessions.listOwnerSessions('ada'), [], 'the session left ada when it became grace\'s');
      assert.deepEqual((await handle.sessions.listOwnerSessions('grace')).map((s) => s.id), [publicIdOf(other.raw)]);
    });

    test('setSessionOwner refuses an owner it cannot index, and the session keeps what it had', async () => {
      const anonymous = cookieOf(await http().post('/write?basket=3').expect(200));
      for (const bad of ['', 'x'.repeat(MAX_OWNER_LENGTH + 1), 'nul\u0000byte']) {
        const res = await http().post(`/owner?owner=${encodeURIComponent(bad)}`).set('Cookie', anonymous.header);
        assert.equal(res.status, 500, 'an app error: the app passed a bad owner');
        assert.deepEqual((await http().get('/read').set('Cookie', anonymous.header).expect(200)).body.data, { basket: '3' });
      }
      await assert.rejects(handle.sessions.endOwnerSessions(''), /an owner must not be empty/);
      await assert.rejects(handle.sessions.listOwnerSessions('\ud800'), /well-formed/);
      await assert.rejects(handle.sessions.endOwnerSession(42 as unknown as string, 'x'), /must be a string/);
    });

    test('sign out of the other devices: every other session of the owner ends, this one stays, each logged with owner and by', async () => {
      const devices = [await signIn('ada', 'phone'), await signIn('ada', 'laptop'), await signIn('ada', 'tablet')];
      const grace = await signIn('grace');
      const res = await http().post('/end-others').set('Cookie', devices[0]!.header).expect(200);
      assert.deepEqual(res.body, { ended: 2 });
      assert.deepEqual((await http().get('/whoami').set('Cookie', devices[0]!.header)).body.owner, 'ada');
      for (const device of devices.slice(1)) {
        assert.deepEqual((await http().get('/whoami').set('Cookie', device.header)).body, { owner: null, id: null }, 'signed out on its next request');
      }
      assert.equal((await http().get('/whoami').set('Cookie', grace.header)).body.owner, 'grace');
      const destroyed = events.filter((event) => event.event === 'session.destroyed');
      assert.deepEqual(destroyed.map((event) => event.sid).sort(), devices.slice(1).map((device) => device.id).sort());
      for (const event of destroyed) assert.deepEqual([event.by, event.owner], ['user', 'ada']);
    });

    test('the owner calls work outside a request, from another instance over the same store', async () => {
      const devices = [await signIn('ada'), await signIn('ada')];
      const script = await openSessionkeeper(testSessionOptions(handle.namespace), { logger: silentLogger() });
      try {
        const listed = await script.listOwnerSessions('ada');
        assert.deepEqual(listed.map((session) => session.id).sort(), devices.map((device) => device.id).sort());
        assert.equal(await script.endOwnerSession('grace', devices[0]!.id), false, 'another owner\'s session is never ended');
        assert.equal(await script.endOwnerSession('ada', 'not-a-public-id'), false);
        assert.equal(await script.endOwnerSession('ada', devices[0]!.id), true);
        assert.equal(await script.endOwnerSession('ada', devices[0]!.id), false, 'already ended');
        assert.equal(await script.endOwnerSessions('ada', { by: 'admin' }), 1);
        assert.equal(await script.endOwnerSessions('ada'), 0);
      } finally {
        await script.close();
      }
      for (const device of devices) assert.equal((await http().get('/whoami').set('Cookie', device.header)).body.owner, null);
    });

    test('a session ended by owner while its request is in flight is not written back by that request', async () => {
      const device = await signIn('ada');
      const inFlight = http().post('/wait?write=late').set('Cookie', device.header).then((res) => res);
      await handle.parked();
      assert.equal(await handle.sessions.endOwnerSessions('ada'), 1);
      handle.release();
      await inFlight;
      assert.equal(await handle.sessions.store.get(device.id, Date.now()), undefined, 'the late write did not bring it back');
      assert.deepEqual(await handle.sessions.listOwnerSessions('ada'), []);
    });

    for (const then of ['regenerate', 'owner:grace'] as const) {
      test(`a request in flight that ends in a ${then.split(':')[0]} after its session was ended by owner carries none of its data or owner over`, async () => {
        const device = await signIn('ada');
        const inFlight = http().post(`/wait?then=${then}`).set('Cookie', device.header).then((res) => res);
        await handle.parked();
        assert.equal(await handle.sessions.endOwnerSessions('ada'), 1);
        handle.release();
        const res = await inFlight;
        assert.equal(res.status, 200);
        assert.deepEqual(res.body.data, {}, 'the ended session\'s data stays ended');
        assert.equal(res.body.owner, then === 'regenerate' ? null : 'grace');
        assert.deepEqual(await handle.sessions.listOwnerSessions('ada'), []);
        const fresh = cookieOf(res);
        assert.deepEqual((await http().get('/read').set('Cookie', fresh.header)).body.data, {});
      });
    }

    test('signing in as another owner starts the session empty: one account\'s data never follows another\'s sign-in', async () => {
      const ada = await signIn('ada');
      const res = await http().post('/owner?owner=grace').set('Cookie', ada.header).expect(200);
      assert.deepEqual(res.body.data, {});
      assert.equal(res.body.owner, 'grace');
    });

    test('a regeneration after the session was ended by owner passes no owner on', async () => {
      const device = await signIn('ada');
      await handle.sessions.endOwnerSessions('ada');
      const res = await http().post('/regenerate').set('Cookie', device.header).expect(200);
      const fresh = cookieOf(res);
      assert.equal((await http().get('/whoami').set('Cookie', fresh.header)).body.owner, null, 'the ended sign-in does not come back');
      assert.deepEqual(await handle.sessions.listOwnerSessions('ada'), []);
    });
  });
}

describe('the cap per owner and device facts (file)', () => {
  test('SESSION_MAX_PER_OWNER=2: the third sign-in evicts the least recently used, logged with the owner', async () => {
    const handle = await createSessionApp('file', { sessions: { maxPerOwner: 2 } });
    try {
      const events = collect(handle);
      const http = request(handle.app.callback());
      const signIns: string[] = [];
      for (let i = 0; i < 3; i++) signIns.push(cookieOf(await http.post('/owner?owner=ada').expect(200)).header);
      const evicted = events.filter((event) => event.event === 'session.evicted');
      assert.equal(evicted.length, 1);
      assert.equal(evicted[0]?.owner, 'ada');
      assert.equal((await http.get('/whoami').set('Cookie', signIns[0]!)).body.owner, null, 'the first device is signed out');
      for (const cookie of signIns.slice(1)) assert.equal((await http.get('/whoami').set('Cookie', cookie)).body.owner, 'ada');
      assert.equal((await handle.sessions.listOwnerSessions('ada')).length, 2);
    } finally {
      await handle.close();
    }
  });

  test('a capped sign-in that lands after its request timed out still reports what it evicted', async () => {
    const handle = await createSessionApp('file', { sessions: { maxPerOwner: 1 }, storeTimeoutMs: 400 });
    try {
      const events = collect(handle);
      const http = request(handle.app.callback());
      const first = cookieOf(await http.post('/owner?owner=ada').expect(200));
      // Another process holds the owner's lock: the next sign-in waits on it past its time budget.
      const lock = join(handle.namespace.env.SESSION_FILE_DIR!, '.owners', `${ownerDigest('ada')}.lock`);
      await writeFile(lock, '');
      await http.post('/owner?owner=ada').expect(503);
      await unlink(lock);
      await waitUntil('the late eviction reported', () => events.some((event) => event.event === 'session.evicted'), 5_000);
      const evicted = events.filter((event) => event.event === 'session.evicted');
      assert.deepEqual(evicted.map((event) => [event.sid, event.owner]), [[publicIdOf(first.raw), 'ada']]);
      assert.equal((await http.get('/whoami').set('Cookie', first.header)).body.owner, null);
    } finally {
      await handle.close();
    }
  });

  test('device facts are kept only with SESSION_TRACK_DEVICE, shortened, with the address as the app trusts it', async () => {
    const untracked = await createSessionApp('file');
    const tracked = await createSessionApp('file', { sessions: { trackDevice: true }, proxy: true });
    try {
      await request(untracked.app.callback()).post('/owner?owner=ada').set('User-Agent', 'Browser/1.0').expect(200);
      assert.equal((await untracked.sessions.listOwnerSessions('ada'))[0]?.device, undefined, 'off by default');
      const longAgent = `Mozilla/5.0\t${'x'.repeat(500)}`;
      await request(tracked.app.callback()).post('/owner?owner=ada').set('User-Agent', longAgent).set('X-Forwarded-For', '203.0.113.9').expect(200);
      const device = (await tracked.sessions.listOwnerSessions('ada'))[0]?.device;
      assert.equal(device?.address, '203.0.113.9', 'TRUST_PROXY: the forwarded address');
      assert.equal(device?.userAgent.length, 201);
      assert.ok(device?.userAgent.startsWith('Mozilla/5.0xxx') && device.userAgent.endsWith('…'), 'control characters dropped, cut with an ellipsis');
    } finally {
      await untracked.close();
      await tracked.close();
    }
  });

  test('without a trusted proxy, a forwarded address is not believed', async () => {
    const handle = await createSessionApp('file', { sessions: { trackDevice: true }, proxy: false });
    try {
      await request(handle.app.callback()).post('/owner?owner=ada').set('X-Forwarded-For', '203.0.113.9').expect(200);
      const device = (await handle.sessions.listOwnerSessions('ada'))[0]?.device;
      assert.ok(device && device.address !== '203.0.113.9', `got ${device?.address}`);
    } finally {
      await handle.close();
    }
  });
});
