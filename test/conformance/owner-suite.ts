/**
 * The owner index, as every store keeps it: sessions listed and ended by owner,
 * the cap per owner, and the index agreeing with the sessions through every
 * way a session ends (destroy, expiry and purge, eviction, ending by owner,
 * destroyAll), also with several processes at once. Run by the conformance
 * suite against the real Redis, the real PostgreSQL and a real directory.
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import type { DeviceFacts, ListSort, SessionRecord, SessionStore } from '../../middleware/store.ts';
import type { StoreFixture } from './store-suite.ts';

const MINUTE = 60_000;
const newId = () => publicIdOf(newSessionId());

function owned(owner: string | undefined, now: number, { lastSeenAt = now, expiresInMs = 30 * MINUTE, device }: { lastSeenAt?: number; expiresInMs?: number; device?: DeviceFacts } = {}): SessionRecord {
  const record: SessionRecord = { data: { who: owner ?? null }, createdAt: now - MINUTE, lastSeenAt, expiresAt: now + expiresInMs };
  if (owner !== undefined) record.owner = owner;
  if (device) record.device = device;
  return record;
}

/** Every page of an owner's listing: ids in order. */
async function ownerIds(store: SessionStore, owner: string, now: number, sort: ListSort = 'activity', limit = 1000): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ owner, sort, limit, cursor, now });
    assert.ok(page.sessions.length <= limit);
    for (const session of page.sessions) {
      assert.equal(session.owner, owner, 'an owner listing holds only that owner\'s sessions');
      ids.push(session.id);
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

/** Owners that must stay apart from each other and from any key, path or pattern syntax. */
export const AWKWARD_OWNERS = [
  'ada',
  'ada:',
  ':ada',
  '*',
  'a*',
  '{ada}',
  '{ada',
  '100%',
  '%2F',
  "o'brien",
  '"quoted"',
  'back\\slash',
  '../../etc/passwd',
  '/',
  '.',
  'with space',
  'Ünïcødé 名前 👩‍💻',
  'ada\nnewline',
  '<script>alert(1)</script>',
  'x'.repeat(512),
];

export function runOwnerConformance(name: string, makeFixture: () => Promise<StoreFixture>): void {
  describe(`${name} owner index`, () => {
    let fixture: StoreFixture;
    let store: SessionStore;
    let peers: SessionStore[];
    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
      peers = [];
      await store.init();
    });
    afterEach(async () => {
      await Promise.all(peers.map((peer) => peer.close()));
      await fixture.cleanup();
    });

    /** Another process's store over the same data, closed after the test. */
    const openPeer = async () => {
      const peer = await fixture.openPeer();
      peers.push(peer);
      await peer.init();
      return peer;
    };

    test('an owned session keeps its owner and device through reads, rolls, updates and listings', async () => {
      const now = Date.now();
      const device = { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0 ✓', address: '2001:db8::1' };
      const id = newId();
      const plain = newId();
      assert.deepEqual(await store.create(id, owned('ada', now, { device })), []);
      await store.create(plain, owned(undefined, now));
      assert.deepEqual(await store.get(id, now), owned('ada', now, { device }));
      assert.deepEqual(await store.get(plain, now), owned(undefined, now), 'no owner, no device');
      const rolled = await store.get(id, now + 1000, { idleTtlMs: 30 * MINUTE, absoluteTtlMs: 0 });
      assert.equal(rolled?.owner, 'ada');
      assert.deepEqual(rolled?.device, device);
      const later = now + 2000;
      assert.equal(await store.update(id, { ...owned('ada', now, { device }), data: { step: 2 }, lastSeenAt: later, expiresAt: later + 30 * MINUTE }, later), true);
      const updated = await store.get(id, later);
      assert.deepEqual([updated?.owner, updated?.device, updated?.data], ['ada', device, { step: 2 }]);
      const page = await store.list({ sort: 'activity', limit: 10, now: later });
      const summary = page.sessions.find((session) => session.id === id);
      assert.deepEqual([summary?.owner, summary?.device], ['ada', device]);
      assert.equal(page.sessions.find((session) => session.id === plain)?.owner, undefined);
      assert.deepEqual(await ownerIds(store, 'ada', later), [id], 'the update and the roll kept it indexed');
    });

    test('an update never changes the owner or the device, whatever its record says', async () => {
      const now = Date.now();
      const device = { userAgent: 'UA', address: '192.0.2.1' };
      const id = newId();
      await store.create(id, owned('ada', now, { device }));
      const { owner: _owner, device: _device, ...withoutIdentity } = owned('ada', now);
      assert.equal(await store.update(id, { ...withoutIdentity, data: { step: 1 } }, now), true);
      assert.equal(await store.update(id, { ...owned('grace', now), data: { step: 2 } }, now), true);
      const stored = await store.get(id, now);
      assert.deepEqual([stored?.owner, stored?.device, stored?.data], ['ada', device, { step: 2 }]);
      assert.deepEqual(await ownerIds(store, 'ada', now), [id]);
      assert.deepEqual(await ownerIds(store, 'grace', now), []);
      assert.deepEqual(await store.endOwnerSessions('ada', now, []), [id]);
    });

    test('an owner listing holds exactly that owner\'s live sessions, in both orders, across pages', async () => {
      const now = Date.now();
      const mine = Array.from({ length: 5 }, (_, i) => ({ id: newId(), record: owned('ada', now, { lastSeenAt: now - i * 1000, expiresInMs: (10 - i) * MINUTE }) }));
      for (const { id, record } of mine) await store.create(id, record);
      await store.create(newId(), owned('grace', now));
      await store.create(newId(), owned(undefined, now));
      await store.create(newId(), owned('ada', now, { expiresInMs: -1 }));
      const byActivity = mine.map(({ id }) => id);
      assert.deepEqual(await ownerIds(store, 'ada', now, 'activity', 2), byActivity, 'most recent first, expired left out');
      assert.deepEqual(await ownerIds(store, 'ada', now, 'expiry', 2), [...byActivity].reverse(), 'soonest to expire first');
      assert.deepEqual(await ownerIds(store, 'nobody', now), []);
    });

    test('owners with awkward strings keep their sessions apart', async () => {
      const now = Date.now();
      const idsOf = new Map<string, string[]>();
      for (const owner of AWKWARD_OWNERS) {
        const ids = [newId(), newId()];
        idsOf.set(owner, ids);
        for (const id of ids) await store.create(id, owned(owner, now));
      }
      for (const owner of AWKWARD_OWNERS) {
        assert.deepEqual((await ownerIds(store, owner, now)).sort(), [...idsOf.get(owner)!].sort(), JSON.stringify(owner.slice(0, 40)));
        const stored = await store.get(idsOf.get(owner)![0]!, now);
        assert.equal(stored?.owner, owner, 'the owner comes back byte for byte');
      }
      const [first, ...others] = AWKWARD_OWNERS;
      assert.deepEqual((await store.endOwnerSessions(first!, now, [])).sort(), [...idsOf.get(first!)!].sort());
      for (const owner of others) assert.equal((await ownerIds(store, owner, now)).length, 2, 'ending one owner leaves every other');
    });

    test('endOwnerSessions ends the owner\'s live sessions but the kept one, and leaves expired ones to the purge', async () => {
      const now = Date.now();
      const [keep, a, b] = [newId(), newId(), newId()];
      const expired = newId();
      const other = newId();
      for (const id of [keep, a, b]) await store.create(id, owned('ada', now));
      await store.create(expired, owned('ada', now, { expiresInMs: -1000 }));
      await store.create(other, owned('grace', now));
      assert.deepEqual((await store.endOwnerSessions('ada', now, [keep])).sort(), [a, b].sort());
      assert.equal(await store.get(a, now), undefined);
      assert.equal(await store.update(b, owned('ada', now), now), false, 'an ended session is never written back');
      assert.ok(await store.get(keep, now));
      assert.ok(await store.get(other, now));
      assert.deepEqual(await ownerIds(store, 'ada', now), [keep]);
      assert.deepEqual(await store.endOwnerSessions('ada', now, [keep]), [], 'nothing left to end');
      assert.deepEqual(await store.purgeExpired(now, 100), [{ id: expired, owner: 'ada' }], 'the expired one is purged, with its owner');
      assert.deepEqual(await store.endOwnerSessions('ada', now, []), [keep]);
      assert.deepEqual(await store.endOwnerSessions('nobody', now, []), []);
    });

    test('every way a session ends takes it out of its owner\'s index, and says whose it was', async () => {
      const now = Date.now();
      const destroyed = newId();
      const expiring = newId();
      const evicted = newId();
      const plain = newId();
      await store.create(destroyed, owned('ada', now));
      await store.create(expiring, owned('ada', now, { expiresInMs: 1000 }));
      await store.create(evicted, owned('ada', now, { expiresInMs: 2000 }));
      await store.create(plain, owned(undefined, now, { expiresInMs: 1500 }));
      assert.equal(await store.destroy(destroyed), true);
      assert.deepEqual(await ownerIds(store, 'ada', now), [expiring, evicted].sort((x, y) => (x < y ? 1 : -1)));
      assert.deepEqual(await store.purgeExpired(now + 1000, 10), [{ id: expiring, owner: 'ada' }]);
      const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
      assert.deepEqual((await store.evictBeyond(0, now + 1000, 10)).sort(byId), [{ id: plain }, { id: evicted, owner: 'ada' }].sort(byId));
      assert.deepEqual(await ownerIds(store, 'ada', now), []);
      assert.deepEqual(await store.endOwnerSessions('ada', now, []), []);
    });

    test('destroyAll empties every owner\'s index', async () => {
      const now = Date.now();
      for (const owner of ['ada', 'grace']) for (let i = 0; i < 3; i++) await store.create(newId(), owned(owner, now));
      assert.equal(await store.destroyAll(), 6);
      assert.deepEqual(await ownerIds(store, 'ada', now), []);
      assert.deepEqual(await store.endOwnerSessions('grace', now, []), []);
      const fresh = newId();
      await store.create(fresh, owned('ada', now));
      assert.deepEqual(await ownerIds(store, 'ada', now), [fresh], 'the index works again after it');
    });

    test('the cap per owner evicts that owner\'s least recently used live sessions, and no one else\'s', async () => {
      const now = Date.now();
      const oldest = newId();
      const middle = newId();
      const expired = newId();
      const othersSession = newId();
      await store.create(oldest, owned('ada', now, { lastSeenAt: now - 3000 }), 2);
      await store.create(middle, owned('ada', now, { lastSeenAt: now - 2000 }), 2);
      await store.create(expired, owned('ada', now, { lastSeenAt: now - 9000, expiresInMs: -1 }));
      await store.create(othersSession, owned('grace', now, { lastSeenAt: now - 9000 }), 2);
      const newest = newId();
      assert.deepEqual(await store.create(newest, owned('ada', now), 2), [{ id: oldest, owner: 'ada' }], 'an expired session does not count, and is not evicted');
      assert.deepEqual((await ownerIds(store, 'ada', now)).sort(), [middle, newest].sort());
      assert.ok(await store.get(othersSession, now));
      const only = newId();
      assert.deepEqual((await store.create(only, owned('ada', now), 1)).map(({ id }) => id).sort(), [middle, newest].sort(), 'a cap of 1: one session per owner');
      assert.deepEqual(await ownerIds(store, 'ada', now), [only]);
      assert.deepEqual(await store.create(newId(), owned(undefined, now), 1), [], 'a session without an owner is never capped');
    });

    test('insert carries the owner index (a moved session), and a refused insert leaves the index as it was', async () => {
      const now = Date.now();
      const id = newId();
      assert.equal(await store.insert(id, owned('ada', now)), true);
      assert.deepEqual(await ownerIds(store, 'ada', now), [id]);
      assert.equal(await store.insert(id, owned('ada', now)), false);
      assert.deepEqual(await ownerIds(store, 'ada', now), [id]);
      assert.equal(await store.insert(id, owned('grace', now)), false, 'the id is taken');
      assert.deepEqual(await ownerIds(store, 'ada', now), [id]);
      assert.deepEqual(await ownerIds(store, 'grace', now), [], 'the refused insert indexed nothing');
      assert.deepEqual(await store.endOwnerSessions('ada', now, []), [id]);
    });

    test('several processes capping one owner at once keep exactly the cap, and report each eviction once', async () => {
      const peers = [store, await openPeer(), await openPeer()];
      const now = Date.now();
      const created = peers.map(() => Array.from({ length: 6 }, newId));
      const evicted = (
        await Promise.all(peers.map(async (peer, p) => {
          const out: string[] = [];
          for (const [i, id] of created[p]!.entries()) {
            for (const gone of await peer.create(id, owned('ada', now, { lastSeenAt: now - 100 + p * 10 + i * 30 }), 3)) out.push(gone.id);
          }
          return out;
        }))
      ).flat();
      const live = await ownerIds(store, 'ada', now);
      assert.equal(live.length, 3, 'the cap holds across processes');
      assert.equal(new Set(evicted).size, evicted.length, 'no eviction reported twice');
      assert.deepEqual([...live, ...evicted].sort(), created.flat().sort(), 'every session is either live or reported evicted');
      for (const id of evicted) assert.equal(await store.get(id, now), undefined);
    });

    test('sessions of one owner created, ended, expired and purged by several processes at once: the index and the sessions agree', async () => {
      const peers = [store, await openPeer(), await openPeer()];
      const now = Date.now();
      const all: string[] = [];
      const endedBy = await Promise.all(peers.map(async (peer, p) => {
        const ended: string[] = [];
        for (let round = 0; round < 4; round++) {
          const ids = Array.from({ length: 5 }, newId);
          all.push(...ids);
          await Promise.all(ids.map((id, i) => peer.create(id, owned('ada', now, { expiresInMs: i === 0 ? 50 : 30 * MINUTE }))));
          const [removed, purged] = await Promise.all([
            round % 2 === p % 2 ? peer.endOwnerSessions('ada', now + 100, []) : Promise.resolve([]),
            peer.purgeExpired(now + 100, 3),
            peer.destroy(ids[1]!),
          ]);
          ended.push(...removed, ...purged.map(({ id }) => id));
        }
        return ended;
      }));
      const ended = endedBy.flat();
      assert.equal(new Set(ended).size, ended.length, 'each session ended by one call only');
      const indexed = new Set(await ownerIds(store, 'ada', now + 100));
      for (const id of all) {
        const live = (await store.get(id, now + 100)) !== undefined;
        assert.equal(indexed.has(id), live, `index and session agree on ${id.slice(0, 8)}`);
      }
      await store.purgeExpired(now + 100, 1000);
      await store.endOwnerSessions('ada', now + 100, []);
      assert.deepEqual(await ownerIds(store, 'ada', now), [], 'nothing live and nothing indexed is left');
    });

    test('two processes ending one owner at once end each session once', async () => {
      const peer = await openPeer();
      const now = Date.now();
      const ids = Array.from({ length: 40 }, newId);
      await Promise.all(ids.map((id) => store.create(id, owned('ada', now))));
      const [first, second] = await Promise.all([store.endOwnerSessions('ada', now, []), peer.endOwnerSessions('ada', now, [])]);
      assert.deepEqual([...first, ...second].sort(), [...ids].sort());
    });
  });
}
