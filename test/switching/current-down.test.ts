/**
 * A backend switch whose current store stops answering while the previous one
 * still does: "end this owner's sessions" ends them in the previous store first,
 * then fails on the current one. The caller gets the current store's 503, and
 * the sessions that did end are not forgotten: each one's `session.destroyed`
 * is recorded, as the SPEC wants every ending logged exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LifecycleEvent } from '../../middleware/index.ts';
import { StoreUnavailableError } from '../../middleware/store.ts';
import { unreachableStore } from '../helpers/failing-stores.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { createSessionApp, type SessionApp } from '../helpers/session-app.ts';
import { createNamespace, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { previousOptionsOf } from '../helpers/switch-fixtures.ts';

describe('switching from files to a redis store that does not answer', () => {
  let previousNamespace: StoreNamespace;
  let app: SessionApp;
  const events: LifecycleEvent[] = [];

  before(async () => {
    previousNamespace = await createNamespace('file');
    app = await createSessionApp('redis', { sessions: previousOptionsOf(previousNamespace), store: unreachableStore('redis') });
    app.sessions.events.on('event', (event: LifecycleEvent) => events.push(event));
  });

  after(async () => {
    await app?.close();
    await previousNamespace?.remove();
  });

  test("ending an owner's sessions: 503, and those the previous store ended are each logged once", async () => {
    // The previous store's directory, opened apart from the app.
    const previous = previousNamespace.open();
    await previous.init();
    const owner = 'grace@example.com';
    const ids = await seedSessions(previous, { count: 3, owners: [owner, owner, owner] });
    const [other] = await seedSessions(previous, { count: 1, owners: ['someone-else@example.com'] });

    await assert.rejects(app.sessions.endOwnerSessions(owner), (err: unknown) => err instanceof StoreUnavailableError && err.storeKind === 'redis');

    assert.deepEqual(await idsStillStored(previous, [...ids, other!]), [other], 'the owner\'s sessions are gone from the previous store, nobody else\'s');
    const destroyed = events.filter((event) => event.event === 'session.destroyed');
    assert.deepEqual(destroyed.map((event) => event.sid).sort(), [...ids].sort(), 'one session.destroyed for each that ended');
    assert.ok(destroyed.every((event) => event.owner === owner && event.by === 'app'));
    await previous.close();
  });
});
