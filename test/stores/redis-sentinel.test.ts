/**
 * The Redis store on a real Sentinel setup of five local processes (a primary,
 * its replica and three Sentinels) that this file starts and stops: the whole
 * store conformance suite through node-redis's Sentinel client, the event log,
 * and a Sentinel client of the caller's own.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSentinel } from 'redis';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { runStoreConformance } from '../conformance/store-suite.ts';
import { startPrivateSentinel, type PrivateSentinel } from '../helpers/private-sentinel.ts';
import { createTopologyNamespace, topologyFixture } from '../helpers/store-fixtures.ts';

const sentinel: PrivateSentinel = await startPrivateSentinel();
after(() => sentinel.stop());

const topology = { sentinels: sentinel.sentinels, sentinelName: sentinel.name };

runStoreConformance('redis sentinel', topologyFixture(topology));

test('the store names the Sentinels and the primary\'s name as where its data lives', () => {
  const store = createTopologyNamespace(topology).open();
  assert.equal(store.location, `redis sentinel ${sentinel.name} via ${sentinel.sentinels}`);
});

test('the event log appends and reads through the Sentinel client', async () => {
  const store = createTopologyNamespace(topology).open();
  await store.init();
  try {
    const log = store.openEventLog!(60 * 60_000);
    const at = new Date().toISOString();
    await log.append([{ event: 'session.created', sid: 'a'.repeat(43), store: 'redis', at }]);
    assert.deepEqual((await log.latest(10)).events.map(({ event }) => event), ['session.created']);
    assert.equal((await log.countSince(Date.now() - 60_000))['session.created'], 1);
  } finally {
    await store.close();
  }
});

test('a Sentinel client of the caller\'s own: the store uses it and leaves it open', async () => {
  const client = createSentinel({ name: sentinel.name, sentinelRootNodes: sentinel.sentinelRootNodes });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const store = new RedisStore({ client, prefix: `sktest:own:${Date.now()}:` });
    await store.init();
    const id = publicIdOf(newSessionId());
    const now = Date.now();
    await store.create(id, { data: { user: 'ada' }, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 });
    assert.deepEqual((await store.get(id, now))?.data, { user: 'ada' });
    await store.close();
    assert.equal(client.isOpen, true);
  } finally {
    await client.close();
  }
});
