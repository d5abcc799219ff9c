import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { publicIdOf } from '../../middleware/ids.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { createSessionApp } from '../helpers/session-app.ts';
import { createNamespace, STORE_KINDS } from '../helpers/store-fixtures.ts';

/** The sid/sid.sig Cookie header of a response that started a session. */
function cookieHeader(res: request.Response): string {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return cookies.filter((c) => c.startsWith('sid')).map((c) => c.split(';')[0]).join('; ');
}

function rawIdOf(header: string): string {
  return /sid=([^;]+)/.exec(header)![1]!;
}

/** Counts the writes that reach a store, passing every call through. */
function countingWrites(store: SessionStore): { store: SessionStore; writes: () => number } {
  let writes = 0;
  const counted = (name: 'create' | 'update') => {
    const original = store[name].bind(store) as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      writes++;
      return original(...args);
    };
  };
  counted('create');
  counted('update');
  return { store, writes: () => writes };
}

describe('rolling', () => {
  for (const kind of STORE_KINDS) {
    describe(`on the ${kind} store`, () => {
      test('each read pushes the expiry forward in the read itself: no separate write', async () => {
        const namespace = await createNamespace(kind);
        const { store, writes } = countingWrites(namespace.open());
        const handle = await createSessionApp(kind, { namespace, store });
        try {
          const cookie = cookieHeader(await request(handle.app.callback()).post('/write?a=1').expect(200));
          const id = publicIdOf(rawIdOf(cookie));
          assert.equal(writes(), 1, 'the new session was created');
          let previous = (await handle.sessions.store.inner.get(id, Date.now()))!;
          for (let i = 0; i < 3; i++) {
            await sleep(15);
            const read = await request(handle.app.callback()).get('/read').set('Cookie', cookie).expect(200);
            assert.deepEqual(read.body.data, { a: '1' });
            assert.match(String(read.headers['set-cookie']), /sid=/, 'the cookie rolls too');
            const current = (await handle.sessions.store.inner.get(id, Date.now()))!;
            assert.ok(current.lastSeenAt > previous.lastSeenAt && current.expiresAt > previous.expiresAt, 'moved forward');
            assert.equal(current.createdAt, previous.createdAt);
            previous = current;
          }
          assert.equal(writes(), 1, 'no create or update for a read');
        } finally {
          await handle.close();
          await namespace.remove();
        }
      });

      test('a change is written at once, with fresh times', async () => {
        const handle = await createSessionApp(kind);
        try {
          const cookie = cookieHeader(await request(handle.app.callback()).post('/write?a=1').expect(200));
          const id = publicIdOf(rawIdOf(cookie));
          const before = (await handle.sessions.store.get(id, Date.now()))!;
          await sleep(20);
          const write = await request(handle.app.callback()).post('/write?b=2').set('Cookie', cookie).expect(200);
          assert.ok(write.headers['set-cookie'], 'a changed session sends its cookie');
          const after = (await handle.sessions.store.get(id, Date.now()))!;
          assert.deepEqual(after.data, { a: '1', b: '2' });
          assert.ok(after.lastSeenAt > before.lastSeenAt && after.expiresAt > before.expiresAt);
        } finally {
          await handle.close();
        }
      });
    });
  }

  test('an active session rolls and never lapses; an idle one expires', async () => {
    // 1 s lifetime: reads every 150 ms for 2.5 s keep the session alive well past its lifetime.
    const handle = await createSessionApp('redis', { sessions: { idleTtlMs: 1_000, absoluteTtlMs: 0 } });
    try {
      const cookie = cookieHeader(await request(handle.app.callback()).post('/write?a=1').expect(200));
      const started = Date.now();
      while (Date.now() - started < 2_500) {
        const read = await request(handle.app.callback()).get('/read').set('Cookie', cookie).expect(200);
        assert.deepEqual(read.body.data, { a: '1' });
        await sleep(150);
      }
      await sleep(1_100);
      const lapsed = await request(handle.app.callback()).get('/read').set('Cookie', cookie).expect(200);
      assert.deepEqual(lapsed.body.data, {}, 'idle for longer than its lifetime: expired');
    } finally {
      await handle.close();
    }
  });
});
