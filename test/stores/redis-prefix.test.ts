/**
 * SESSION_REDIS_PREFIX: two apps on one Redis, each with its own prefix, never
 * see, count, sweep or end each other's sessions, and every key either writes
 * starts with its prefix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import { createClient } from 'redis';
import request from 'supertest';
import { createSessionkeeper, type Sessionkeeper } from '../../middleware/index.ts';
import { optionsFromEnv } from '../../middleware/config.ts';
import { TEST_REDIS_URL } from '../helpers/store-fixtures.ts';

const RUN = `sktest-prefix:${randomUUID()}:`;
const redis = createClient({ url: TEST_REDIS_URL });

/** A Koa app whose every request writes to its session, on the Redis store under `prefix`. */
async function appWithPrefix(prefix: string): Promise<{ app: Koa; sessions: Sessionkeeper }> {
  const app = new Koa();
  const sessions = await createSessionkeeper(app, {
    store: 'redis', redisUrl: TEST_REDIS_URL, redisPrefix: prefix, keys: ['prefix-test-key-0123456789abcdef'], sweepIntervalMs: 3_600_000, logLevel: 'silent',
  });
  app.use(sessions.middleware);
  app.use((ctx) => {
    ctx.session!.visits = ((ctx.session!.visits as number | undefined) ?? 0) + 1;
    ctx.body = String(ctx.session!.visits);
  });
  return { app, sessions };
}

async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) found.push(...keys);
  return found;
}

describe('two apps sharing one Redis with different SESSION_REDIS_PREFIX', () => {
  const prefixA = `${RUN}shop:`;
  const prefixB = `${RUN}blog:`;
  let a: { app: Koa; sessions: Sessionkeeper };
  let b: { app: Koa; sessions: Sessionkeeper };

  before(async () => {
    await redis.connect();
    a = await appWithPrefix(prefixA);
    b = await appWithPrefix(prefixB);
  });
  after(async () => {
    await a.sessions.close();
    await b.sessions.close();
    const leftovers = await keysUnder(RUN);
    if (leftovers.length > 0) await redis.unlink(leftovers);
    await redis.close();
  });

  test('each app keeps its own sessions under its own prefix, and ending all of one leaves the other alone', async () => {
    for (let i = 0; i < 3; i++) await request(a.app.callback()).get('/').expect(200, '1');
    await request(b.app.callback()).get('/').expect(200, '1');

    const now = Date.now();
    assert.equal(await a.sessions.store.count(now), 3);
    assert.equal(await b.sessions.store.count(now), 1);
    const keysA = await keysUnder(prefixA);
    const keysB = await keysUnder(prefixB);
    assert.ok(keysA.length >= 3 && keysB.length >= 1, 'both wrote keys');
    assert.ok(keysA.every((key) => !key.startsWith(prefixB)) && keysB.every((key) => !key.startsWith(prefixA)));
    assert.deepEqual(await keysUnder('sessionkeeper:sktest-prefix'), [], 'nothing under the default prefix');

    assert.equal(await a.sessions.store.destroyAll(), 3);
    assert.equal(await a.sessions.store.count(now), 0);
    assert.equal(await b.sessions.store.count(now), 1, "the other app's session is untouched");
  });

  test("a cookie of one app is not a session in the other, even with the same keys", async () => {
    const first = await request(a.app.callback()).get('/').expect(200, '1');
    const cookie = ([] as string[]).concat(first.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
    await request(a.app.callback()).get('/').set('Cookie', cookie).expect(200, '2');
    await request(b.app.callback()).get('/').set('Cookie', cookie).expect(200, '1');
  });
});

test('SESSION_REDIS_PREFIX is read from the environment; the default is sessionkeeper:', () => {
  assert.equal(optionsFromEnv({ SESSION_REDIS_PREFIX: 'shop:' }).redisPrefix, 'shop:');
  assert.equal(optionsFromEnv({}).redisPrefix, undefined);
});
