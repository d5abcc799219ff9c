/**
 * One shard of the Redis store failing while the others answer (on a cluster:
 * one primary down with `cluster-require-full-coverage no`). Here a real
 * single Redis, where one shard's owner hash is made the wrong type, so every
 * removal script of that shard fails with WRONGTYPE before it writes anything.
 * What the other shards removed must still be reported, once: a purge returns
 * it (and tells onStepFailure of the failure), and ending an owner's
 * sessions rejects with a PartialRemovalError naming the ones that ended.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { RedisLayout, type ShardKeys } from '../../middleware/stores/redis-layout.ts';
import { PartialRemovalError } from '../../middleware/store.ts';
import { idsStillStored, seedSessions } from '../helpers/seeded-sessions.ts';
import { createNamespace, type StoreNamespace, TEST_REDIS_URL } from '../helpers/store-fixtures.ts';

const sorted = (ids: readonly string[]) => [...ids].sort();

describe('the redis store when one shard fails and the others answer', () => {
  const redis = createClient({ url: TEST_REDIS_URL });
  const stepFailures: Error[] = [];
  let namespace: StoreNamespace;
  let layout: RedisLayout;
  let store: RedisStore;

  before(async () => {
    await redis.connect();
  });

  beforeEach(async () => {
    await namespace?.remove();
    await store?.close();
    namespace = await createNamespace('redis');
    layout = new RedisLayout(namespace.env.SESSION_REDIS_PREFIX!);
    store = new RedisStore({ url: TEST_REDIS_URL, prefix: namespace.env.SESSION_REDIS_PREFIX!, onStepFailure: (err) => stepFailures.push(err) });
    await store.init();
    stepFailures.length = 0;
  });

  after(async () => {
    await store?.close();
    await namespace?.remove();
    await redis.close();
  });

  /** Breaks the shard: its owner hash becomes a string, which the removal script reads first. */
  async function breakShard(shard: ShardKeys): Promise<void> {
    await redis.multi().del(shard.owners).set(shard.owners, 'not a hash').exec();
  }

  /** `ids` split into those in the shard of `ids[0]` and the rest. */
  function splitByFirstShard(ids: string[]): { shard: ShardKeys; inShard: string[]; elsewhere: string[] } {
    const shard = layout.shardFor(ids[0]!);
    const inShard = ids.filter((id) => layout.shardFor(id).shard === shard.shard);
    return { shard, inShard, elsewhere: ids.filter((id) => !inShard.includes(id)) };
  }

  test('a purge returns what the other shards removed, reports the failure, and the next purge takes the rest', async () => {
    const ids = await seedSessions(store, { count: 30, expiresInMs: -120_000 });
    const { shard, inShard, elsewhere } = splitByFirstShard(ids);
    assert.ok(elsewhere.length > 0, 'the sessions span more than one shard');
    await breakShard(shard);

    const removed = await store.purgeExpired(Date.now(), 1000);
    assert.deepEqual(sorted(removed.map(({ id }) => id)), sorted(elsewhere));
    assert.equal(stepFailures.length, 1, 'the failed shard is reported');
    assert.match(stepFailures[0]!.message, /WRONGTYPE/);
    assert.deepEqual(sorted(await idsStillStored(store, ids)), sorted(inShard), 'the failed shard lost nothing');

    await redis.del(shard.owners);
    const rest = await store.purgeExpired(Date.now(), 1000);
    assert.deepEqual(sorted(rest.map(({ id }) => id)), sorted(inShard), 'each session reported once over the two purges');
  });

  test('a purge where every shard with work fails rejects: nothing to report, nothing lost', async () => {
    const ids = await seedSessions(store, { count: 1, expiresInMs: -120_000 });
    await breakShard(layout.shardFor(ids[0]!));
    await assert.rejects(store.purgeExpired(Date.now(), 1000), /WRONGTYPE/);
    assert.deepEqual(await idsStillStored(store, ids), ids);
  });

  test("ending an owner's sessions ends them in every other shard and names them in a PartialRemovalError", async () => {
    const owner = 'ada@example.com';
    const ids = await seedSessions(store, { count: 30, owners: Array(30).fill(owner) });
    const { shard, inShard, elsewhere } = splitByFirstShard(ids);
    await breakShard(shard);

    await assert.rejects(store.endOwnerSessions(owner, Date.now(), []), (err: unknown) => {
      assert.ok(err instanceof PartialRemovalError);
      assert.deepEqual(sorted(err.removedIds), sorted(elsewhere));
      assert.match(String((err.cause as Error).message), /WRONGTYPE/);
      return true;
    });
    assert.deepEqual(sorted(await idsStillStored(store, ids)), sorted(inShard));
  });

  test("ending an owner's sessions when only the failed shard holds any rejects with the shard's own error", async () => {
    const owner = 'grace@example.com';
    const ids = await seedSessions(store, { count: 1, owners: [owner] });
    await breakShard(layout.shardFor(ids[0]!));
    await assert.rejects(store.endOwnerSessions(owner, Date.now(), []), (err: unknown) => !(err instanceof PartialRemovalError) && /WRONGTYPE/.test((err as Error).message));
    assert.deepEqual(await idsStillStored(store, ids), ids);
  });
});
