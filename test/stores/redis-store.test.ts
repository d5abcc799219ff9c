import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { createClient } from 'redis';
import { RedisLayout, shardOf } from '../../middleware/stores/redis-layout.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { runStoreConformance } from '../conformance/store-suite.ts';
import { createNamespace, TEST_REDIS_URL } from '../helpers/store-fixtures.ts';

const PREFIX = `sktest:${randomUUID()}:`;
const admin = createClient({ url: TEST_REDIS_URL });
await admin.connect();
let storeCount = 0;

/** A prefix unique to this run, removed in `after`. */
const newPrefix = () => `${PREFIX}${storeCount++}:`;

after(async () => {
  for await (const keys of admin.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 })) {
    if (keys.length > 0) await admin.unlink(keys);
  }
  await admin.close();
});

const record = (now: number, data: Record<string, unknown> = { user: 'ada' }) => ({ data, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 });

async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) found.push(...keys);
  return found;
}

/** Rejects with "hung" when a promise neither resolves nor rejects in time: a hang fails the test instead of stalling it. */
function settlesWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung for ${ms} ms`)), ms)));
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer));
}

test('every session key expires natively at expiresAt plus the grace, after create, update and a rolling read', async () => {
  const prefix = newPrefix();
  const graceMs = 5 * 60_000;
  const store = new RedisStore({ url: TEST_REDIS_URL, prefix, expiryGraceMs: graceMs });
  await store.init();
  try {
    const now = Date.now();
    const id = publicIdOf(newSessionId());
    const key = new RedisLayout(prefix).shardFor(id).session(id);
    await store.create(id, record(now));
    assert.equal(await admin.pExpireTime(key), now + 60_000 + graceMs);
    assert.equal(await store.update(id, { ...record(now), expiresAt: now + 90_000 }, now), true);
    assert.equal(await admin.pExpireTime(key), now + 90_000 + graceMs);
    assert.ok(await store.get(id, now + 1_000, { idleTtlMs: 119_000, absoluteTtlMs: 0 }), 'read and rolled');
    assert.equal(await admin.pExpireTime(key), now + 120_000 + graceMs);

    await store.create(publicIdOf(newSessionId()), record(now));
    const sessionKeys = (await keysUnder(prefix)).filter((key) => /\}s:/.test(key));
    assert.equal(sessionKeys.length, 2);
    for (const sessionKey of sessionKeys) assert.ok((await admin.pTTL(sessionKey)) > 0, 'no session key without a TTL');
  } finally {
    await store.close();
  }
});

test('the default grace is 10 minutes', async () => {
  const prefix = newPrefix();
  const store = new RedisStore({ url: TEST_REDIS_URL, prefix });
  await store.init();
  try {
    const now = Date.now();
    const id = publicIdOf(newSessionId());
    await store.create(id, record(now));
    assert.equal(await admin.pExpireTime(new RedisLayout(prefix).shardFor(id).session(id)), now + 60_000 + 10 * 60_000);
  } finally {
    await store.close();
  }
});

test('init against an unreachable Redis rejects instead of hanging, calls reject at once, and errors reach onBackgroundError', { timeout: 15_000 }, async () => {
  const backgroundErrors: Error[] = [];
  const store = new RedisStore({ url: 'redis://127.0.0.1:1', prefix: newPrefix(), onBackgroundError: (err) => backgroundErrors.push(err) });
  try {
    await assert.rejects(settlesWithin(store.init(), 5_000), (err: Error) => !err.message.startsWith('hung'));
    await assert.rejects(settlesWithin(store.get(publicIdOf(newSessionId()), Date.now()), 1_000), (err: Error) => !err.message.startsWith('hung'));
    await assert.rejects(settlesWithin(store.ping(), 1_000), (err: Error) => !err.message.startsWith('hung'));
    assert.ok(backgroundErrors.length > 0);
  } finally {
    await store.close();
  }
});

test('a store whose init failed works as soon as Redis is reachable, without a restart', { timeout: 20_000 }, async () => {
  // A plain TCP relay to the real Redis stands in for a Redis that is down, then back.
  const relay = net.createServer((socket) => socket.pipe(net.connect(6379, '127.0.0.1')).pipe(socket));
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  const { port } = relay.address() as net.AddressInfo;
  relay.close();
  await once(relay, 'close');

  const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, prefix: newPrefix() });
  try {
    await assert.rejects(settlesWithin(store.init(), 5_000), (err: Error) => !err.message.startsWith('hung'));
    relay.listen(port, '127.0.0.1');
    await once(relay, 'listening');
    let answered = false;
    for (let attempt = 0; attempt < 50 && !answered; attempt++) {
      answered = await store.ping().then(() => true, () => false);
      if (!answered) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(answered, 'the store answers again once Redis is back');
    const id = publicIdOf(newSessionId());
    const now = Date.now();
    await store.create(id, record(now));
    assert.deepEqual(await store.get(id, now), record(now));
  } finally {
    await store.close();
    relay.close();
  }
});

test('a caller-owned client stays open after close', async () => {
  const client = createClient({ url: TEST_REDIS_URL });
  await client.connect();
  try {
    const store = new RedisStore({ client, prefix: newPrefix() });
    assert.equal(store.location, 'redis (shared client)');
    await store.init();
    await store.create(publicIdOf(newSessionId()), record(Date.now()));
    await store.close();
    assert.equal(client.isOpen, true);
    assert.equal(await client.ping(), 'PONG');
  } finally {
    await client.close();
  }
});

test('location never shows the password, and exactly one of client or url is required', async () => {
  const store = new RedisStore({ url: 'redis://app:hunter2secret@127.0.0.1:6379/0', prefix: newPrefix() });
  assert.ok(!store.location.includes('hunter2secret'));
  assert.match(store.location, /127\.0\.0\.1:6379/);
  await store.close();
  assert.throws(() => new RedisStore({}), /exactly one of client/);
});

test('Redis holds public ids only, never the raw id', async () => {
  const prefix = newPrefix();
  const store = new RedisStore({ url: TEST_REDIS_URL, prefix });
  await store.init();
  try {
    const rawId = newSessionId();
    const id = publicIdOf(rawId);
    const now = Date.now();
    await store.create(id, record(now));
    await store.update(id, record(now, { more: 'data' }), now);
    await store.get(id, now + 1, { idleTtlMs: 70_000, absoluteTtlMs: 0 });

    const dump: unknown[] = [];
    for (const key of await keysUnder(prefix)) {
      const type = await admin.type(key);
      dump.push(key, type === 'hash' ? await admin.hGetAll(key) : await admin.zRangeWithScores(key, 0, -1));
    }
    const text = JSON.stringify(dump);
    assert.ok(text.includes(id), 'the dump holds the session');
    assert.ok(!text.includes(rawId));
  } finally {
    await store.close();
  }
});

test('scripts flushed from Redis (a restart, SCRIPT FLUSH) are sent again', async () => {
  const store = new RedisStore({ url: TEST_REDIS_URL, prefix: newPrefix() });
  await store.init();
  try {
    const now = Date.now();
    const id = publicIdOf(newSessionId());
    await store.create(id, record(now));
    await admin.scriptFlush();
    assert.ok(await store.get(id, now + 1, { idleTtlMs: 70_000, absoluteTtlMs: 0 }), 'the rolling read runs its script again');
    assert.equal((await store.list({ limit: 5, sort: 'activity', now })).sessions.length, 1);
  } finally {
    await store.close();
  }
});

runStoreConformance('redis (own client)', async () => {
  const namespace = await createNamespace('redis');
  const store = namespace.open();
  return {
    store,
    openPeer: async () => namespace.open(),
    cleanup: async () => {
      await store.close();
      await namespace.remove();
    },
  };
});

// The caller's client is a different path (no connect, no offline-queue settings of ours), and RESP3 parses replies differently.
const sharedResp3Client = createClient({ url: TEST_REDIS_URL, RESP: 3 });
await sharedResp3Client.connect();
after(() => sharedResp3Client.close());

runStoreConformance('redis (caller-owned RESP3 client)', async () => {
  const prefix = newPrefix();
  const store = new RedisStore({ client: sharedResp3Client, prefix });
  return {
    store,
    openPeer: async () => new RedisStore({ client: sharedResp3Client, prefix }),
    cleanup: async () => {
      await store.destroyAll();
      await store.close();
    },
  };
});

test('ending an owner reaches past entries whose session hash Redis dropped by itself (maxmemory eviction, native expiry)', async () => {
  const namespace = await createNamespace('redis');
  const store = namespace.open();
  const redis = createClient({ url: TEST_REDIS_URL });
  try {
    await store.init();
    await redis.connect();
    const now = Date.now();
    const ids = Array.from({ length: 1005 }, () => publicIdOf(newSessionId()));
    // The first 1000 by expiry lose their hash, as an eviction by Redis would leave them: more than one batch of dead entries.
    await Promise.all(ids.map((id, i) => store.create(id, { data: {}, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 + i, owner: 'ada' })));
    const layout = new RedisLayout(namespace.env.SESSION_REDIS_PREFIX!);
    await Promise.all(ids.slice(0, 1000).map((id) => redis.del(layout.shardFor(id).session(id))));
    assert.deepEqual((await store.endOwnerSessions('ada', now, [])).sort(), ids.slice(1000).sort(), 'only the sessions that still exist are reported');
    const leftOver = await Promise.all(layout.shards.map(async (shard) => (await redis.hLen(shard.owners)) + (await redis.zCard(shard.ownerExpiry)) + (await redis.zCard(shard.expiry))));
    assert.equal(leftOver.reduce((sum, n) => sum + n, 0), 0, 'the dropped sessions leave no index entry behind');
  } finally {
    await redis.close();
    await store.close();
    await namespace.remove();
  }
});

test('a page comes whole and in order when one shard holds most of it: the shards beyond their first share are read on', async () => {
  const store = new RedisStore({ url: TEST_REDIS_URL, prefix: newPrefix() });
  await store.init();
  try {
    const now = Date.now();
    const inOneShard: string[] = [];
    while (inOneShard.length < 60) {
      const id = publicIdOf(newSessionId());
      if (shardOf(id) === 5) inOneShard.push(id);
    }
    const elsewhere = Array.from({ length: 20 }, () => publicIdOf(newSessionId()));
    // The crowded shard's sessions are the most recent, with ties of three, so each page is mostly its own.
    const lastSeen = new Map([...inOneShard.map((id, i) => [id, now - Math.floor(i / 3)] as const), ...elsewhere.map((id, i) => [id, now - 1_000 - i] as const)]);
    await Promise.all([...lastSeen].map(([id, at]) => store.create(id, { data: {}, createdAt: at, lastSeenAt: at, expiresAt: now + 60_000 + (at % 7) })));
    const expected = [...lastSeen].sort(([a, x], [b, y]) => y - x || (a < b ? 1 : -1)).map(([id]) => id);
    for (const limit of [1, 7, 10, 50]) {
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list({ limit, cursor, sort: 'activity', now });
        assert.ok(page.sessions.length === limit || page.nextCursor === null, 'every page but the last is full');
        listed.push(...page.sessions.map(({ id }) => id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(listed, expected, `pages of ${limit}`);
    }
  } finally {
    await store.close();
  }
});
