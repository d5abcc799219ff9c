import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { publicIdOf } from '../../middleware/ids.ts';
import { refreshIntervalMs } from '../../middleware/koa-store-adapter.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { createNamespace, STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createSessionApp } from '../helpers/session-app.ts';

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
  const counted = (name: 'create' | 'update' | 'touch') => {
    const original = store[name].bind(store) as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      writes++;
      return original(...args);
    };
  };
  counted('create');
  counted('update');
  counted('touch');
  return { store, writes: () => writes };
}

describe('the rolling refresh interval', () => {
  test('is 1 % of the idle lifetime, at most a minute', () => {
    assert.equal(refreshIntervalMs({ idleTtlMs: 30 * 60_000, absoluteTtlMs: 0 }), 18_000);
    assert.equal(refreshIntervalMs({ idleTtlMs: 90_000, absoluteTtlMs: 0 }), 900);
    assert.equal(refreshIntervalMs({ idleTtlMs: 7 * 24 * 3_600_000, absoluteTtlMs: 0 }), 60_000);
  });

  for (const kind of STORE_KINDS) {
    describe(`on the ${kind} store`, () => {
      test('a read within the interval writes nothing and sends no cookie', async () => {
        const namespace = await createNamespace(kind);
        const { store, writes } = countingWrites(namespace.open());
        const handle = await createSessionApp(kind, {}, store);
        try {
          const cookie = cookieHeader(await request(handle.app.callback()).post('/write?a=1').expect(200));
          const id = publicIdOf(rawIdOf(cookie));
          const before = await handle.sessions.store.get(id, Date.now());
          assert.equal(writes(), 1, 'the new session was created');
          await sleep(20);
          for (let i = 0; i < 3; i++) {
            const read = await request(handle.app.callback()).get('/read').set('Cookie', cookie).expect(200);
            assert.deepEqual(read.body.data, { a: '1' });
            assert.equal(read.headers['set-cookie'], undefined, 'no cookie within the interval');
          }
          assert.equal(writes(), 1, 'no store write within the interval');
          assert.deepEqual(await handle.sessions.store.get(id, Date.now()), before, 'times unchanged');
        } finally {
          await handle.close();
          await namespace.remove();
        }
      });

      test('a change within the interval is written at once, with fresh times', async () => {
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

  test('an active session whose reads all fall within an interval of the last refresh still rolls and never lapses', async () => {
    // 1 s lifetime, 10 ms interval: reads every 150 ms for 2.5 s keep the session alive well past its lifetime.
    const handle = await createSessionApp('redis', { idleTtlMs: 1_000, absoluteTtlMs: 0 });
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
