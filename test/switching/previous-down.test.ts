/**
 * A backend switch whose previous store does not answer (on every ordered
 * pair, the previous store pointed at something that cannot answer): requests for sessions only it could hold
 * get 503 within the 5 s the current store's outages get, as for the current
 * store; new sessions and sessions already moved still work; the dashboard's
 * totals say which store is down; the migration fails with the store's error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { readStats } from '../../admin/actions.ts';
import { migrateSessions } from '../../middleware/migration.ts';
import { StoreUnavailableError, type StoreKind } from '../../middleware/store.ts';
import type { SessionkeeperOptions } from '../../middleware/config.ts';
import { unreachableStore } from '../helpers/failing-stores.ts';
import { createSessionApp, type SessionApp } from '../helpers/session-app.ts';
import { SWITCH_PAIRS } from '../helpers/switch-fixtures.ts';
import { cookieHeaderOf } from '../helpers/upload-forms.ts';
import { publicIdOf } from '../../middleware/ids.ts';

/** Settings naming a previous store of `kind` (its connection is replaced by an unreachable store of that kind). */
function previousOfKind(kind: StoreKind): SessionkeeperOptions {
  return kind === 'postgres' ? { previousStore: kind, previousDatabaseUrl: 'postgres://postgres@127.0.0.1:1/test' } : { previousStore: kind };
}

for (const [from, to] of SWITCH_PAIRS) {
  describe(`switching from a ${from} store that does not answer to ${to}`, () => {
    let app: SessionApp;

    before(async () => {
      app = await createSessionApp(to, { sessions: previousOfKind(from), previousStore: unreachableStore(from) });
    });

    after(() => app.close());

    test('a session in neither store may be in the previous one: 503, logged once as that store\'s outage', async () => {
      const res = await request(app.app.callback()).post('/write?a=1').expect(200);
      const cookie = cookieHeaderOf(res);
      // Gone from the current store: only the previous store could still hold it.
      await app.sessions.store.inner.destroy(publicIdOf(/sid=([^;]+)/.exec(cookie)![1]!));
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const refused = await request(app.app.callback()).get('/read').set('Cookie', cookie);
        assert.equal(refused.status, 503);
        assert.ok(Date.now() - started < 5000, 'within 5 s');
      }
      const outages = app.logs.lines().filter((line) => line.msg === 'session store unavailable');
      assert.deepEqual(outages.map((line) => line.store), [from], 'one line, naming the previous store');
    });

    test('new sessions and sessions already in the current store still work', async () => {
      const res = await request(app.app.callback()).post('/write?fresh=yes').expect(200);
      const read = await request(app.app.callback()).get('/read').set('Cookie', cookieHeaderOf(res)).expect(200);
      assert.deepEqual(read.body.data, { fresh: 'yes' });
    });

    test('ending a session needs both stores: 503, and the session is still there once the store answers', async () => {
      const res = await request(app.app.callback()).post('/write?keep=1').expect(200);
      const cookie = cookieHeaderOf(res);
      await request(app.app.callback()).post('/forget').set('Cookie', cookie).expect(503);
      const read = await request(app.app.callback()).get('/read').set('Cookie', cookie).expect(200);
      assert.deepEqual(read.body.data, { keep: '1' }, 'not ended in one store only, where a copy in the other could come back');
    });

    test('the totals show the previous store down, and the current store\'s figures still', async () => {
      const stats = await readStats(app.sessions);
      assert.equal(stats.store, to);
      assert.equal(stats.healthy, true);
      assert.deepEqual(stats.previous, { store: from, healthy: false, live: null });
      assert.equal(stats.movedLastHour, 0);
    });

    test('a migration fails with the previous store\'s error', async () => {
      await assert.rejects(migrateSessions(app.sessions.transition!, app.sessions.sweeper, { settleMs: 0 }), (err: unknown) => err instanceof StoreUnavailableError && err.storeKind === from);
    });
  });
}
