import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createClient } from 'redis';
import request from 'supertest';
import { publicIdOf } from '../../middleware/ids.ts';
import type { SessionStore } from '../../middleware/store.ts';
import { createSessionApp } from '../helpers/session-app.ts';
import { createNamespace, STORE_KINDS, TEST_DATABASE_URL, TEST_REDIS_URL, type StoreNamespace } from '../helpers/store-fixtures.ts';
import { RedisLayout } from '../../middleware/stores/redis-layout.ts';

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

const redis = createClient({ url: TEST_REDIS_URL });
const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
before(() => redis.connect());
after(async () => {
  await redis.close();
  await pool.end();
});

/**
 * What the backend itself holds of a session, read past the store: any write to it changes this. PostgreSQL:
 * the row version (an UPDATE makes a new one even with equal values); Redis: the hash, its expiry and both
 * index scores; files: the inode (every write renames a new file into place) and its times.
 */
async function storedVersion(namespace: StoreNamespace, id: string): Promise<string> {
  const { redisPrefix, pgTable, fileDir } = namespace.settings;
  switch (namespace.kind) {
    case 'postgres': {
      const { rows } = await pool.query(`SELECT xmin::text AS version, ctid::text AS place FROM "${pgTable}" WHERE id = $1`, [id]);
      return JSON.stringify(rows);
    }
    case 'redis': {
      const shard = new RedisLayout(redisPrefix!).shardFor(id);
      const key = shard.session(id);
      return JSON.stringify([
        await redis.hGetAll(key), await redis.pExpireTime(key),
        await redis.zScore(shard.expiry, id), await redis.zScore(shard.activity, id),
      ]);
    }
    case 'file': {
      const stats = await stat(join(fileDir!, `${id}.json`));
      return JSON.stringify([stats.ino, stats.mtimeMs, stats.atimeMs]);
    }
  }
}

describe('rolling', () => {
  for (const kind of STORE_KINDS) {
    describe(`on the ${kind} store`, () => {
      test('SESSION_TOUCH_AFTER=0: each read pushes the expiry forward in the read itself, no separate write, and the cookie rolls', async () => {
        const namespace = await createNamespace(kind);
        const { store, writes } = countingWrites(namespace.open());
        const handle = await createSessionApp(kind, { namespace, store, sessions: { touchAfterMs: 0 } });
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

      test('a read within SESSION_TOUCH_AFTER of the last roll writes nothing and sends no cookie; the first read after it rolls', async () => {
        const namespace = await createNamespace(kind);
        const handle = await createSessionApp(kind, { namespace, sessions: { idleTtlMs: 60_000, touchAfterMs: 1_000 } });
        try {
          const cookie = cookieHeader(await request(handle.app.callback()).post('/write?a=1').expect(200));
          const id = publicIdOf(rawIdOf(cookie));
          const created = (await handle.sessions.store.inner.get(id, Date.now()))!;
          const version = await storedVersion(namespace, id);
          for (let i = 0; i < 3; i++) {
            await sleep(50);
            const read = await request(handle.app.callback()).get('/read').set('Cookie', cookie).expect(200);
            assert.deepEqual(read.body.data, { a: '1' });
            assert.equal(read.headers['set-cookie'], undefined, 'no Set-Cookie for a read that did not roll');
            assert.equal(await storedVersion(namespace, id), version, 'nothing written to the backend');
          }
          await sleep(Math.max(0, created.lastSeenAt + 1_000 - Date.now()) + 20);
          const due = await request(handle.app.callback()).get('/read').set('Cookie', cookie).expect(200);
          assert.deepEqual(due.body.data, { a: '1' });
          assert.match(String(due.headers['set-cookie']), /sid=/, 'a read that rolls sends the cookie again');
          assert.notEqual(await storedVersion(namespace, id), version, 'the roll is written');
          const rolled = (await handle.sessions.store.inner.get(id, Date.now()))!;
          assert.ok(rolled.lastSeenAt >= created.lastSeenAt + 1_000, 'last seen moved to the rolling read');
          assert.equal(rolled.expiresAt, rolled.lastSeenAt + 60_000, 'and the expiry with it');
          const next = await request(handle.app.callback()).get('/read').set('Cookie', cookie).expect(200);
          assert.equal(next.headers['set-cookie'], undefined, 'the window starts again from the roll');
        } finally {
          await handle.close();
          await namespace.remove();
        }
      });

      test('a change is written at once, with fresh times, whatever SESSION_TOUCH_AFTER says', async () => {
        const handle = await createSessionApp(kind, { sessions: { idleTtlMs: 60_000, touchAfterMs: 30_000 } });
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

  test('with the longest SESSION_TOUCH_AFTER (half the TTL), a session read more often than that never lapses', async () => {
    // 2 s lifetime, rolled at most once a second: 5 s of reads every 300 ms, most of which only read.
    const handle = await createSessionApp('postgres', { sessions: { idleTtlMs: 2_000, absoluteTtlMs: 0, touchAfterMs: 1_000 } });
    try {
      const cookie = cookieHeader(await request(handle.app.callback()).post('/write?a=1').expect(200));
      const started = Date.now();
      let rolls = 0;
      let reads = 0;
      while (Date.now() - started < 5_000) {
        const read = await request(handle.app.callback()).get('/read').set('Cookie', cookie).expect(200);
        assert.deepEqual(read.body.data, { a: '1' }, `alive after ${Date.now() - started} ms`);
        if (read.headers['set-cookie']) rolls++;
        reads++;
        await sleep(300);
      }
      assert.ok(rolls >= 3 && rolls <= 6, `rolled about once a second (${rolls} of ${reads} reads)`);
    } finally {
      await handle.close();
    }
  });
});
