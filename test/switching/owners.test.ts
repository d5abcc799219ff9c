/**
 * Owners during a backend switch (SPEC, "Owners" and "Switching backends"),
 * on every ordered pair of stores: an "old" app on the previous store alone
 * where visitors signed in, and a "new" one in transition mode
 * (SESSION_STORE_PREVIOUS). An owned session moves with its owner and device,
 * into the new store's owner index; the bulk migration moves the index too, so
 * that the new store alone can end an owner's sessions once the switch is
 * over; and while the switch is under way the owner calls see and end the
 * owner's sessions in both stores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { migrateSessions, openSessionkeeper, type LifecycleEvent } from '../../middleware/index.ts';
import { silentLogger } from '../helpers/log-capture.ts';
import { ownerIndexEntries } from '../helpers/owner-index.ts';
import { createSessionApp, type SessionApp } from '../helpers/session-app.ts';
import { SWITCH_PAIRS, previousOptionsOf } from '../helpers/switch-fixtures.ts';
import { openSwitchStores, type SwitchStores } from '../helpers/switch-scenario.ts';
import { testSessionOptions } from '../helpers/test-settings.ts';
import { cookieHeaderOf } from '../helpers/upload-forms.ts';

/** A device signed in on the old app: its cookie and session id. */
interface Device {
  cookie: string;
  id: string;
}

/** What `GET /whoami` answers. */
interface WhoAmI {
  owner: string | null;
  id: string | null;
}

const ANONYMOUS: WhoAmI = { owner: null, id: null };
const sorted = (ids: readonly string[]) => [...ids].sort();

for (const [from, to] of SWITCH_PAIRS) {
  describe(`owners while switching from ${from} to ${to}`, () => {
    let stores: SwitchStores;
    let oldApp: SessionApp;
    let newApp: SessionApp;
    const events: LifecycleEvent[] = [];

    before(async () => {
      stores = await openSwitchStores(from, to);
      const { previousNamespace, currentNamespace } = stores;
      oldApp = await createSessionApp(from, { namespace: previousNamespace, sessions: { trackDevice: true } });
      newApp = await createSessionApp(to, { namespace: currentNamespace, sessions: { ...previousOptionsOf(previousNamespace), trackDevice: true } });
      newApp.sessions.events.on('event', (event: LifecycleEvent) => events.push(event));
    });

    after(async () => {
      await Promise.all([oldApp?.close(), newApp?.close()]);
      await stores?.close();
    });

    async function signInOnOldApp(owner: string, userAgent = 'TestBrowser/1.0'): Promise<Device> {
      const res = await request(oldApp.app.callback()).post(`/owner?owner=${encodeURIComponent(owner)}`).set('User-Agent', userAgent).expect(200);
      assert.equal(res.body.owner, owner);
      return { cookie: cookieHeaderOf(res), id: res.body.id };
    }
    const whoami = async (app: SessionApp, { cookie }: Device): Promise<WhoAmI> => (await request(app.app.callback()).get('/whoami').set('Cookie', cookie).expect(200)).body;
    const eventsOf = (name: string, ids: readonly string[]) => events.filter((event) => event.event === name && ids.includes(event.sid!));
    const listedIds = async (owner: string) => sorted((await newApp.sessions.listOwnerSessions(owner)).map((session) => session.id));

    test('an owned session moves with its next request: owner and device intact, indexed under the owner in the new store only', async () => {
      const owner = 'ada@example.com';
      const device = await signInOnOldApp(owner, 'Firefox/133.0 (owners test)');
      const before = (await stores.previous.get(device.id, Date.now()))!;
      assert.deepEqual([before.owner, before.device?.userAgent], [owner, 'Firefox/133.0 (owners test)']);

      assert.deepEqual(await whoami(newApp, device), { owner, id: device.id }, 'the request finds its session and its owner');
      assert.deepEqual(await stores.current.get(device.id, Date.now()), before, 'moved whole: owner, device, data and times');
      assert.equal(await stores.previous.get(device.id, 0), undefined);
      const page = await stores.current.list({ owner, sort: 'activity', limit: 10, now: Date.now() });
      assert.deepEqual(page.sessions.map(({ id, owner: listedOwner, device: facts }) => ({ id, owner: listedOwner, device: facts })), [{ id: device.id, owner, device: before.device }]);
      assert.deepEqual(await ownerIndexEntries(stores.currentNamespace, owner), [device.id]);
      assert.deepEqual(await ownerIndexEntries(stores.previousNamespace, owner), [], 'nothing of the owner is left in the previous store\'s index');
      assert.deepEqual(await listedIds(owner), [device.id]);

      const moved = eventsOf('session.moved', [device.id]).map(({ from: f, to: t, owner: o }) => ({ f, t, o }));
      assert.deepEqual(moved, [{ f: from, t: to, o: owner }], 'session.moved once, with the owner');
    });

    test('the migration moves owned sessions with their owner index: the new store alone ends them once the switch is over', async () => {
      const owner = 'grace';
      const devices = await Promise.all([0, 1, 2, 3].map((n) => signInOnOldApp(owner, `device ${n}`)));
      const other = await signInOnOldApp('hopper');
      const ids = sorted(devices.map((device) => device.id));

      const summary = await migrateSessions(newApp.sessions.transition!, newApp.sessions.sweeper, { settleMs: 0 });
      assert.deepEqual([summary.moved, summary.failed], [devices.length + 1, 0]);
      const moved = eventsOf('session.moved', [...ids, other.id]).map((event) => `${event.sid} ${event.owner}`);
      assert.deepEqual(moved.sort(), [...devices.map(({ id }) => `${id} ${owner}`), `${other.id} hopper`].sort(), 'each move recorded once, with its owner');
      for (const id of [...ids, other.id]) assert.equal(await stores.previous.get(id, 0), undefined, 'moved out of the previous store');
      assert.deepEqual(await ownerIndexEntries(stores.previousNamespace, owner), []);
      assert.deepEqual(await ownerIndexEntries(stores.currentNamespace, owner), ids, 'the new store indexes them under the owner');
      for (const device of devices) assert.equal((await stores.current.get(device.id, Date.now()))?.owner, owner);

      // SESSION_STORE_PREVIOUS removed: the new store alone.
      const afterSwitch = await openSessionkeeper(testSessionOptions(stores.currentNamespace), { logger: silentLogger() });
      try {
        assert.deepEqual(sorted((await afterSwitch.listOwnerSessions(owner)).map((session) => session.id)), ids);
        assert.equal(await afterSwitch.endOwnerSessions(owner), devices.length, 'every moved session of the owner ended');
        assert.deepEqual((await afterSwitch.listOwnerSessions('hopper')).map((session) => session.id), [other.id], 'another owner\'s session stays');
      } finally {
        await afterSwitch.close();
      }
      for (const id of ids) assert.equal(await stores.current.get(id, 0), undefined, 'ended in the new store');
      assert.deepEqual(await ownerIndexEntries(stores.currentNamespace, owner), []);
      for (const device of devices) assert.deepEqual(await whoami(newApp, device), ANONYMOUS);
      assert.equal((await whoami(newApp, other)).owner, 'hopper');
    });

    test('during the switch the owner calls see and end the owner\'s sessions in both stores', async () => {
      const owner = 'lin';
      // a and b moved; c and d still in the previous store; e in both, as a move cut short leaves it.
      const [a, b, c, d, e] = await Promise.all([0, 1, 2, 3, 4].map((n) => signInOnOldApp(owner, `device ${n}`)));
      for (const device of [a!, b!]) assert.equal((await whoami(newApp, device)).owner, owner);
      assert.equal(await stores.current.insert(e!.id, (await stores.previous.get(e!.id, Date.now()))!), true);
      const all = [a!, b!, c!, d!, e!];

      assert.deepEqual(await listedIds(owner), sorted(all.map((device) => device.id)), 'both stores listed, each session once');

      assert.equal(await newApp.sessions.endOwnerSession('someone else', c!.id), false, 'another owner\'s call ends nothing');
      assert.ok(await stores.previous.get(c!.id, Date.now()));
      assert.equal(await newApp.sessions.endOwnerSession(owner, c!.id, { by: 'admin' }), true, 'one session still in the previous store ended');
      assert.equal(await stores.previous.get(c!.id, 0), undefined);
      assert.deepEqual(await whoami(oldApp, c!), ANONYMOUS);
      assert.deepEqual(await whoami(newApp, c!), ANONYMOUS, 'not moved back');

      // "Sign out of the other devices" from a: the rest of both stores.
      const res = await request(newApp.app.callback()).post('/end-others').set('Cookie', a!.cookie).expect(200);
      assert.deepEqual(res.body, { ended: 3 }, 'b, d and e, each counted once');
      const ended = [b!, d!, e!];
      for (const { id } of ended) {
        assert.equal(await stores.previous.get(id, 0), undefined, 'gone from the previous store');
        assert.equal(await stores.current.get(id, 0), undefined, 'gone from the current store');
      }
      for (const device of ended) {
        assert.deepEqual(await whoami(newApp, device), ANONYMOUS);
        assert.deepEqual(await whoami(oldApp, device), ANONYMOUS);
      }
      assert.deepEqual(await whoami(newApp, a!), { owner, id: a!.id }, 'the device that asked stays signed in');
      assert.deepEqual(await listedIds(owner), [a!.id]);
      assert.deepEqual(await ownerIndexEntries(stores.previousNamespace, owner), []);
      assert.deepEqual(await ownerIndexEntries(stores.currentNamespace, owner), [a!.id]);

      const destroyed = eventsOf('session.destroyed', all.map((device) => device.id));
      assert.deepEqual(
        destroyed.map(({ sid, by, owner: eventOwner }) => ({ sid, by, owner: eventOwner })).sort((x, y) => (x.sid! < y.sid! ? -1 : 1)),
        [{ sid: c!.id, by: 'admin', owner }, ...ended.map(({ id }) => ({ sid: id, by: 'user', owner }))].sort((x, y) => (x.sid < y.sid ? -1 : 1)),
        'each ending recorded once, with who ended it and the owner',
      );
    });
  });
}
