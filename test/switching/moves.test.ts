/**
 * A backend switch on every ordered pair of stores, and between two Redis
 * prefixes: an "old" process still serving on the previous store alone, a
 * "new" one in transition mode (SESSION_STORE_PREVIOUS), and the bulk
 * migration. Sessions move on their first request, with their cookie, data,
 * creation time and expiry; exactly once when requests and a migration race;
 * never coming back once ended in either store, whatever the interleaving;
 * and a copy left by a move cut short never serves a request and is settled
 * by the next migration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { migrateSessions } from '../../middleware/migration.ts';
import type { SessionStore } from '../../middleware/store.ts';
import type { InterleavedStore } from '../helpers/interleaved-store.ts';
import { seedSessions } from '../helpers/seeded-sessions.ts';
import type { SessionApp } from '../helpers/session-app.ts';
import { openSwitchScenario, type SwitchScenario } from '../helpers/switch-scenario.ts';
import { SAME_KIND_PAIR, SWITCH_PAIRS } from '../helpers/switch-fixtures.ts';
import { cookieHeaderOf } from '../helpers/upload-forms.ts';

/** No wait before settling copies in both stores: no move is in flight elsewhere when the test calls the migration. */
const SETTLED_AT_ONCE = { settleMs: 0 };
/** While requests move sessions too: a moment for their moves to finish first (MOVE_SETTLE_MS, in production). */
const SETTLED_AFTER_REQUESTS = { settleMs: 1000 };

for (const [from, to] of [...SWITCH_PAIRS, SAME_KIND_PAIR]) {
  describe(`switching from ${from} to ${to}`, () => {
    let scenario: SwitchScenario;
    let oldProcess: SessionApp;
    let newProcess: SessionApp;
    let hooked: InterleavedStore;
    let previous: SessionStore;
    let current: SessionStore;
    let events: LifecycleEvent[];

    before(async () => {
      scenario = await openSwitchScenario(from, to);
      ({ oldProcess, newProcess, hooked, previous, current, events } = scenario);
    });

    after(() => scenario.close());

    /** A visitor's session, made by the old process: its cookie and public id. */
    async function sessionOfOldProcess(query = 'upload=notes.txt'): Promise<{ cookie: string; id: string }> {
      const res = await request(oldProcess.app.callback()).post(`/write?${query}`).expect(200);
      const cookie = cookieHeaderOf(res);
      return { cookie, id: publicIdOf(/sid=([^;]+)/.exec(cookie)![1]!) };
    }

    const readThroughNewProcess = (cookie: string) => request(newProcess.app.callback()).get('/read').set('Cookie', cookie).expect(200);
    const movedEventsOf = (id: string) => events.filter((event) => event.event === 'session.moved' && event.sid === id);

    test('a request moves its session: same cookie, data, creation time and expiry, logged once as session.moved', async () => {
      const { cookie, id } = await sessionOfOldProcess();
      const before = (await previous.get(id, Date.now()))!;
      const res = await readThroughNewProcess(cookie);
      assert.deepEqual(res.body.data, { upload: 'notes.txt' });
      assert.equal(res.headers['set-cookie'], undefined, 'the visitor keeps the cookie they have');
      const moved = await current.get(id, Date.now());
      assert.deepEqual(moved, before, 'data and times unchanged (the read was within SESSION_TOUCH_AFTER)');
      assert.equal(await previous.get(id, 0), undefined, 'removed from the previous store');
      assert.deepEqual(movedEventsOf(id).map(({ from: f, to: t, store }) => ({ f, t, store })), [{ f: from, t: to, store: to }]);
      assert.ok(newProcess.logs.lines().some((line) => line.event === 'session.moved' && line.sid === id), 'logged as a lifecycle line');
      await readThroughNewProcess(cookie);
      assert.equal(movedEventsOf(id).length, 1, 'the next request reads the current store');
    });

    test('requests of one session racing each other and a migration move it exactly once', async () => {
      const visitors = await Promise.all(Array.from({ length: 4 }, (_, n) => sessionOfOldProcess(`n=${n}`)));
      const reads = visitors.flatMap(({ cookie }) => Array.from({ length: 6 }, () => readThroughNewProcess(cookie)));
      const migration = migrateSessions(newProcess.sessions.transition!, newProcess.sessions.sweeper, SETTLED_AFTER_REQUESTS);
      const answers = await Promise.all(reads);
      await migration;
      for (const [index, res] of answers.entries()) assert.deepEqual(res.body.data, { n: String(Math.floor(index / 6)) }, 'every request saw its session');
      for (const { id } of visitors) {
        assert.equal(movedEventsOf(id).length, 1, 'moved once');
        assert.ok(await current.get(id, Date.now()));
        assert.equal(await previous.get(id, 0), undefined);
      }
    });

    test('a session ended in the previous store just before the copy is not brought back', async () => {
      const { cookie, id } = await sessionOfOldProcess();
      hooked.aroundNextInsert({ before: () => request(oldProcess.app.callback()).post('/forget').set('Cookie', cookie).expect(204).then(() => undefined) });
      const res = await readThroughNewProcess(cookie);
      assert.deepEqual(res.body.data, {}, 'the request finds no session');
      assert.equal(await current.get(id, 0), undefined);
      assert.equal(await previous.get(id, 0), undefined);
      assert.equal(movedEventsOf(id).length, 0);
    });

    test('a session ended in the previous store between the copy and its removal is removed from the current store again', async () => {
      const { cookie, id } = await sessionOfOldProcess();
      hooked.aroundNextInsert({ after: () => request(oldProcess.app.callback()).post('/forget').set('Cookie', cookie).expect(204).then(() => undefined) });
      const res = await readThroughNewProcess(cookie);
      assert.deepEqual(res.body.data, {}, 'the request finds no session');
      assert.equal(await current.get(id, 0), undefined, 'the copy was removed');
      assert.equal(await previous.get(id, 0), undefined);
      assert.equal(movedEventsOf(id).length, 0);
    });

    test('a late move of a session that moved and was then ended in the current store is undone', async () => {
      const { cookie, id } = await sessionOfOldProcess();
      const stale = (await previous.get(id, Date.now()))!;
      await readThroughNewProcess(cookie);
      await request(newProcess.app.callback()).post('/forget').set('Cookie', cookie).expect(204);
      // A migration that read the session before all that copies it now.
      assert.equal(await newProcess.sessions.transition!.move(id, stale), 'ended');
      assert.equal(await current.get(id, 0), undefined);
      assert.equal(await previous.get(id, 0), undefined);
    });

    test('a copy left by a move cut short never serves a request, and the next migration settles it', async () => {
      const { cookie, id } = await sessionOfOldProcess();
      const left = (await previous.get(id, Date.now()))!;
      // The process died after the copy, before the removal from the previous store.
      assert.equal(await current.insert(id, left), true);
      const res = await request(newProcess.app.callback()).post('/write?more=1').set('Cookie', cookie).expect(200);
      assert.deepEqual(res.body.data, { upload: 'notes.txt', more: '1' });
      assert.deepEqual((await previous.get(id, Date.now()))?.data, { upload: 'notes.txt' }, 'the copy left behind is not written');
      assert.deepEqual((await readThroughNewProcess(cookie)).body.data, { upload: 'notes.txt', more: '1' }, 'and not read');
      const summary = await migrateSessions(newProcess.sessions.transition!, newProcess.sessions.sweeper, SETTLED_AT_ONCE);
      assert.equal(summary.alreadyThere, 1);
      assert.equal(summary.moved, 0);
      assert.equal(await previous.get(id, 0), undefined, 'settled: the previous copy is gone');
      assert.deepEqual((await current.get(id, Date.now()))?.data, { upload: 'notes.txt', more: '1' });
      assert.equal(movedEventsOf(id).length, 1, 'the move is recorded once, by the migration that completed it');
    });

    test('a session that expires while it moves is moved expired: never served, its expiry logged once', async () => {
      const id = publicIdOf(newSessionId());
      const now = Date.now();
      const record = { data: { a: 1 }, createdAt: now, lastSeenAt: now, expiresAt: now + 300 };
      await previous.create(id, record);
      hooked.aroundNextInsert({ before: () => sleep(Math.max(0, record.expiresAt - Date.now()) + 20) });
      assert.equal(await newProcess.sessions.transition!.move(id, record), 'moved');
      assert.equal(await current.get(id, Date.now()), undefined, 'never returned once expired');
      await newProcess.sessions.sweeper.sweepNow();
      const expiries = events.filter((event) => event.event === 'session.expired' && event.sid === id);
      assert.deepEqual(expiries.map((event) => event.store), [to], 'logged once, by the store that held it');
    });

    test('evicting a session also removes a copy a move cut short left in the previous store', async () => {
      const { cookie, id } = await sessionOfOldProcess();
      assert.equal(await current.insert(id, (await previous.get(id, Date.now()))!), true);
      const evicted = await newProcess.sessions.store.evictBeyond(0, Date.now(), 1000);
      assert.ok(evicted.some((session) => session.id === id));
      assert.equal(await previous.get(id, 0), undefined, 'no copy left to move back');
      assert.deepEqual((await readThroughNewProcess(cookie)).body.data, {}, 'the evicted session stays ended');
    });

    test('migrate moves every live session once, counts what was there or expired, and sweeps what expired in the previous store', async () => {
      const live = await seedSessions(previous, { count: 30 });
      const expired = await seedSessions(previous, { count: 3, expiresInMs: -60_000 });
      const copied = await seedSessions(previous, { count: 2 });
      for (const id of copied) assert.equal(await current.insert(id, (await previous.get(id, Date.now()))!), true);
      const before = events.length;
      const summary = await migrateSessions(newProcess.sessions.transition!, newProcess.sessions.sweeper, SETTLED_AT_ONCE);
      assert.deepEqual(summary, { moved: 30, alreadyThere: 2, expired: 3, failed: 0 });
      for (const id of [...live, ...copied]) {
        assert.ok(await current.get(id, Date.now()), 'live in the current store');
        assert.equal(await previous.get(id, 0), undefined, 'gone from the previous store');
      }
      const recorded = events.slice(before);
      assert.equal(recorded.filter((event) => event.event === 'session.moved').length, 32, 'each moved once (two completed by the settling)');
      assert.deepEqual(new Set(recorded.filter((event) => event.event === 'session.expired').map((event) => `${event.sid} ${event.store}`)), new Set(expired.map((id) => `${id} ${from}`)));
      assert.equal(await previous.count(0), 0, 'the previous store holds nothing');
      const again = await migrateSessions(newProcess.sessions.transition!, newProcess.sessions.sweeper, SETTLED_AT_ONCE);
      assert.deepEqual(again, { moved: 0, alreadyThere: 0, expired: 0, failed: 0 }, 'a second run has nothing to do');
    });

    test('new sessions are created in the current store only', async () => {
      const res = await request(newProcess.app.callback()).post('/write?fresh=1').expect(200);
      const id = publicIdOf(/sid=([^;]+)/.exec(cookieHeaderOf(res))![1]!);
      assert.ok(await current.get(id, Date.now()));
      assert.equal(await previous.get(id, 0), undefined);
    });
  });
}
