/**
 * A move whose copy is slower than the store's time limit: the request gets
 * its 503, and the store finishes the insert after the guard stopped waiting.
 * The move is finished in the background as if the copy had answered in time:
 * the previous copy is removed and the move recorded once, or, when the
 * visitor ended the session meanwhile (through a process still on the old
 * store), the late copy is removed again, so it never brings the session back.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { publicIdOf } from '../../middleware/ids.ts';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import type { InterleavedStore } from '../helpers/interleaved-store.ts';
import type { SessionApp } from '../helpers/session-app.ts';
import { openSwitchScenario, type SwitchScenario } from '../helpers/switch-scenario.ts';
import { cookieHeaderOf } from '../helpers/upload-forms.ts';
import { waitUntil } from '../helpers/wait.ts';

/** The guard's limit on each store call in this test, and how long the copy takes. */
const STORE_TIMEOUT_MS = 200;
const COPY_TAKES_MS = 500;

const PAIRS: readonly (readonly [StoreKind, StoreKind])[] = [['file', 'redis'], ['redis', 'postgres'], ['postgres', 'file']];

for (const [from, to] of PAIRS) {
  describe(`a copy into ${to} that lands after its request gave up (from ${from})`, () => {
    let scenario: SwitchScenario;
    let oldProcess: SessionApp;
    let newProcess: SessionApp;
    let hooked: InterleavedStore;
    let previous: SessionStore;
    let current: SessionStore;
    let events: LifecycleEvent[];

    before(async () => {
      scenario = await openSwitchScenario(from, to, { storeTimeoutMs: STORE_TIMEOUT_MS });
      ({ oldProcess, newProcess, hooked, previous, current, events } = scenario);
    });

    after(() => scenario.close());

    /** A visitor's request whose move times out; `landed` resolves once the store has made the copy after all. */
    async function slowMove(): Promise<{ cookie: string; id: string; landed: Promise<void> }> {
      const res = await request(oldProcess.app.callback()).post('/write?upload=notes.txt').expect(200);
      const cookie = cookieHeaderOf(res);
      let copied!: () => void;
      const landed = new Promise<void>((resolve) => (copied = resolve));
      hooked.aroundNextInsert({ before: () => sleep(COPY_TAKES_MS), after: async () => copied() });
      await request(newProcess.app.callback()).get('/read').set('Cookie', cookie).expect(503);
      return { cookie, id: publicIdOf(/sid=([^;]+)/.exec(cookie)![1]!), landed };
    }

    test('the late copy finishes the move: the previous copy removed, the move recorded once', async () => {
      const { cookie, id, landed } = await slowMove();
      await landed;
      await waitUntil('the move to finish', async () => (await previous.get(id, 0)) === undefined, 5000, 20);
      assert.ok(await current.get(id, Date.now()));
      await waitUntil('session.moved', () => events.some((event) => event.event === 'session.moved' && event.sid === id), 2000, 20);
      const read = await request(newProcess.app.callback()).get('/read').set('Cookie', cookie).expect(200);
      assert.deepEqual(read.body.data, { upload: 'notes.txt' }, 'the visitor has their session back');
      assert.equal(events.filter((event) => event.event === 'session.moved' && event.sid === id).length, 1);
    });

    test('a session ended while its copy was late is not brought back by the copy', async () => {
      const { cookie, id, landed } = await slowMove();
      await request(oldProcess.app.callback()).post('/forget').set('Cookie', cookie).expect(204);
      await landed;
      await waitUntil('the late copy to be removed again', async () => (await current.get(id, 0)) === undefined, 5000, 20);
      assert.equal(await previous.get(id, 0), undefined);
      assert.ok(!events.some((event) => event.event === 'session.moved' && event.sid === id));
    });
  });
}
