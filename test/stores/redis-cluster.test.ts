/**
 * The Redis store on a real Redis Cluster of six local processes (three
 * primaries, three replicas) that this file starts and stops: the whole store
 * conformance suite, the spread of sessions over the primaries, the event log,
 * and a cluster client of the caller's own.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, createCluster } from 'redis';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { RedisLayout, SHARD_COUNT, slotOfShard } from '../../middleware/stores/redis-layout.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { runStoreConformance } from '../conformance/store-suite.ts';
import { startPrivateCluster, type PrivateCluster } from '../helpers/private-cluster.ts';
import { createTopologyNamespace, topologyFixture } from '../helpers/store-fixtures.ts';

const cluster: PrivateCluster = await startPrivateCluster();
after(() => cluster.stop());

const record = (now: number) => ({ data: { user: 'ada' }, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 });

runStoreConformance('redis cluster', topologyFixture({ clusterNodes: cluster.nodes }));

/** The primaries and the slot ranges each serves, from CLUSTER SHARDS. */
async function primarySlots(): Promise<{ address: string; ranges: [number, number][] }[]> {
  const client = createCluster({ rootNodes: cluster.rootNodes });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return client.masters.map((master) => ({
      address: master.address,
      ranges: client.slots.flatMap((shard, slot) => (shard?.master.address === master.address ? [[slot, slot] as [number, number]] : [])),
    }));
  } finally {
    await client.close();
  }
}

/** How many session hashes (`<prefix>{<tag>}s:<id>`) the node at `address` holds, by SCAN. */
async function sessionHashesOn(address: string, prefix: string): Promise<number> {
  const node = createClient({ url: `redis://${address}` });
  node.on('error', () => undefined);
  await node.connect();
  try {
    let found = 0;
    for await (const keys of node.scanIterator({ MATCH: `${prefix}{*}s:*`, COUNT: 1000 })) found += keys.length;
    return found;
  } finally {
    await node.close();
  }
}

test('sessions spread evenly over the primaries: every shard on one slot, the shards\' slots evenly over the primaries', async () => {
  const primaries = await primarySlots();
  assert.equal(primaries.length, 3);
  const shardsPer = primaries.map(({ ranges }) => Array.from({ length: SHARD_COUNT }, (_, shard) => slotOfShard(shard)).filter((slot) => ranges.some(([a, b]) => slot >= a && slot <= b)).length);
  assert.deepEqual(shardsPer, [16, 16, 16], 'three primaries with equal slot ranges hold 16 shards each');

  const prefix = `sktest:spread:${Date.now()}:`;
  const store = new RedisStore({ clusterNodes: cluster.nodes.split(','), prefix });
  await store.init();
  try {
    const now = Date.now();
    const ids = Array.from({ length: 4_800 }, () => publicIdOf(newSessionId()));
    for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => store.create(id, record(now))));
    assert.equal(await store.count(now), ids.length);
    // Which primary holds each session, asked of each primary: the session hashes under the prefix it holds.
    const perPrimary = await Promise.all(primaries.map(({ address }) => sessionHashesOn(address, prefix)));
    const ratio = Math.max(...perPrimary) / Math.min(...perPrimary);
    assert.ok(ratio <= 1.2, `most-loaded / least-loaded primary = ${ratio.toFixed(3)} (${perPrimary.join(', ')})`);
    assert.equal(perPrimary.reduce((a, b) => a + b, 0), ids.length, 'every session on exactly one primary');
    // And where the layout says: the primary serving the slot of the session's shard.
    const layout = new RedisLayout(prefix);
    const expected = primaries.map(({ ranges }) => ids.filter((id) => {
      const slot = slotOfShard(layout.shardFor(id).shard);
      return ranges.some(([a, b]) => slot >= a && slot <= b);
    }).length);
    assert.deepEqual(perPrimary, expected);
    assert.equal(await store.destroyAll(), ids.length);
  } finally {
    await store.close();
  }
});

test('the event log appends and reads on the cluster: the stream and its tallies share a slot', async () => {
  const store = createTopologyNamespace({ clusterNodes: cluster.nodes }).open();
  await store.init();
  try {
    const log = store.openEventLog!(60 * 60_000);
    const at = new Date().toISOString();
    await log.append([{ event: 'session.created', sid: 'a'.repeat(43), store: 'redis', at }, { event: 'session.expired', sid: 'b'.repeat(43), store: 'redis', at }]);
    assert.deepEqual((await log.latest(10)).events.map(({ event }) => event).sort(), ['session.created', 'session.expired']);
    const counts = await log.countSince(Date.now() - 60_000);
    assert.equal(counts['session.created'], 1);
    assert.ok((await log.size()).events >= 2);
    await log.trim(Date.now() + 1_000, Date.now());
  } finally {
    await store.close();
  }
});

test('a cluster client of the caller\'s own: the store uses it and leaves it open', async () => {
  const client = createCluster({ rootNodes: cluster.rootNodes });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const store = new RedisStore({ client, prefix: `sktest:own:${Date.now()}:` });
    await store.init();
    const id = publicIdOf(newSessionId());
    const now = Date.now();
    await store.create(id, record(now));
    assert.deepEqual((await store.get(id, now))?.data, { user: 'ada' });
    assert.equal(await store.destroy(id), true);
    await store.close();
    assert.equal(client.isOpen, true);
  } finally {
    await client.close();
  }
});
