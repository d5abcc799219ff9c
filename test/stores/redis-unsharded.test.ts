/**
 * Upgrading from the layout before shards (sessionkeeper 0.1): a store that
 * starts on a Redis holding sessions in the old keys moves them into their
 * shards, owners and devices included, so upgrading signs nobody out; the old
 * keys go, an expired session is still swept and reported, and several
 * processes starting at once move each session once.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { ownerDigest } from '../../middleware/store.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { TEST_REDIS_URL } from '../helpers/store-fixtures.ts';

const PREFIX = `sktest:${randomUUID()}:`;
const admin = createClient({ url: TEST_REDIS_URL });
await admin.connect();

after(async () => {
  for await (const keys of admin.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 })) if (keys.length > 0) await admin.unlink(keys);
  await admin.close();
});

interface Old {
  id: string;
  lastSeenAt: number;
  expiresAt: number;
  owner?: string;
}

/** A session as sessionkeeper 0.1 wrote it: hash, native expiry, the two indexes, and the owner's keys. */
async function writeOldSession(prefix: string, { id, lastSeenAt, expiresAt, owner }: Old): Promise<void> {
  const key = `${prefix}s:${id}`;
  await admin.hSet(key, { c: String(lastSeenAt - 1000), l: String(lastSeenAt), e: String(expiresAt), d: JSON.stringify({ cart: id.slice(0, 4) }) });
  await admin.pExpireAt(key, expiresAt + 600_000);
  await admin.zAdd(`${prefix}exp`, { score: expiresAt, value: id });
  await admin.zAdd(`${prefix}act`, { score: lastSeenAt, value: id });
  if (owner) {
    const digest = ownerDigest(owner);
    await admin.hSet(key, { o: owner, v: JSON.stringify({ userAgent: 'Firefox', ip: '10.0.0.1' }) });
    await admin.hSet(`${prefix}own`, id, digest + owner);
    await admin.zAdd(`${prefix}o:${digest}:act`, { score: lastSeenAt, value: id });
    await admin.zAdd(`${prefix}o:${digest}:exp`, { score: expiresAt, value: id });
  }
}

async function oldKeys(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) found.push(...keys.filter((key) => !key.slice(prefix.length).startsWith('{')));
  return found;
}

test('sessions of the layout before shards are moved at start: readable, listed, counted, with their owners, and the old keys are gone', async () => {
  const prefix = `${PREFIX}a:`;
  const now = Date.now();
  const sessions: Old[] = Array.from({ length: 1_203 }, (_, i) => ({ id: publicIdOf(newSessionId()), lastSeenAt: now - i, expiresAt: now + 60_000 + i, ...(i % 3 === 0 ? { owner: 'ada' } : {}) }));
  const expired: Old = { id: publicIdOf(newSessionId()), lastSeenAt: now - 90_000, expiresAt: now - 1_000, owner: 'ada' };
  for (const session of [...sessions, expired]) await writeOldSession(prefix, session);
  // One whose hash Redis already dropped: only index entries are left of it.
  await admin.zAdd(`${prefix}exp`, { score: now + 5_000, value: publicIdOf(newSessionId()) });

  const stores = [new RedisStore({ url: TEST_REDIS_URL, prefix }), new RedisStore({ url: TEST_REDIS_URL, prefix })];
  try {
    await Promise.all(stores.map((store) => store.init()));
    const [store] = stores as [RedisStore, RedisStore];
    assert.deepEqual(await oldKeys(prefix), [], 'no key of the old layout is left');
    assert.equal(await store.count(now), sessions.length);
    const first = sessions[0]!;
    assert.deepEqual(await store.get(first.id, now), {
      data: { cart: first.id.slice(0, 4) }, createdAt: first.lastSeenAt - 1000, lastSeenAt: first.lastSeenAt, expiresAt: first.expiresAt,
      owner: 'ada', device: { userAgent: 'Firefox', ip: '10.0.0.1' },
    });
    const page = await store.list({ limit: 5, sort: 'activity', now });
    assert.deepEqual(page.sessions.map(({ id }) => id), sessions.slice(0, 5).map(({ id }) => id), 'listed in the same order as before');
    const owned = sessions.filter(({ owner }) => owner).map(({ id }) => id);
    assert.deepEqual((await store.endOwnerSessions('ada', now, [])).sort(), owned.sort(), 'the owner index came along');
    assert.deepEqual(await store.purgeExpired(now, 100), [{ id: expired.id, owner: 'ada' }], 'the expired one is still swept and reported');
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
});

test('a store on a Redis without old keys moves nothing and leaves newer sessions alone', async () => {
  const prefix = `${PREFIX}b:`;
  const store = new RedisStore({ url: TEST_REDIS_URL, prefix });
  const now = Date.now();
  const id = publicIdOf(newSessionId());
  try {
    await store.init();
    await store.create(id, { data: { newer: true }, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 });
    // An old copy of the same id (an older process wrote it during a rolling deploy): the newer one wins.
    await writeOldSession(prefix, { id, lastSeenAt: now - 5_000, expiresAt: now + 30_000 });
    await store.init();
    assert.deepEqual((await store.get(id, now))?.data, { newer: true });
    assert.deepEqual(await oldKeys(prefix), []);
  } finally {
    await store.close();
  }
});
