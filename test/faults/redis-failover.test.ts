/**
 * A primary killed under load, on a real local Redis Cluster and on a real
 * Sentinel setup: visitors keep writing their sessions through a sessionkeeper
 * app while the primary dies. Requests get 503 for the failover window at most,
 * then succeed with no restart; no session created before the failover (and so
 * replicated: Redis replicates asynchronously, see the README's "Redis Cluster
 * and Sentinel") is lost, and every write acknowledged after it is kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { publicIdOf } from '../../middleware/ids.ts';
import { RedisLayout, slotOfShard } from '../../middleware/stores/redis-layout.ts';
import { startPrivateCluster } from '../helpers/private-cluster.ts';
import { startPrivateSentinel } from '../helpers/private-sentinel.ts';
import { createSessionApp } from '../helpers/session-app.ts';
import { createTopologyNamespace, type RedisTopology } from '../helpers/store-fixtures.ts';
import { Visitor } from '../helpers/visitor.ts';
import { waitUntil } from '../helpers/wait.ts';

const VISITORS = 30;
/** How long the load goes on before the kill, and at most after it. */
const LOAD_BEFORE_KILL_MS = 500;
const RECOVERY_LIMIT_MS = 20_000;
/** The failover itself takes 2–4 s here (cluster-node-timeout or down-after-milliseconds of 1 s, then the election). */
const LONGEST_503_RUN_LIMIT_MS = 10_000;

interface Outcome {
  at: number;
  status: number;
}

/** Waits until every replica of the primary at `address` has acknowledged all it was sent. */
async function replicasCaughtUp(address: string): Promise<void> {
  const client = createClient({ url: `redis://${address}` });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await waitUntil(`the replicas of ${address} have caught up`, async () => {
      const info = await client.info('replication');
      const offset = Number(/master_repl_offset:(\d+)/.exec(info)?.[1]);
      const replicas = [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].map((match) => Number(match[1]));
      return replicas.length > 0 && replicas.every((replicated) => replicated >= offset);
    }, 10_000);
  } finally {
    await client.close();
  }
}

/**
 * Visitors with a session each, replicated; load; `kill`; load until every visitor has written three times
 * since `recovered` resolved. Checks what the file's comment promises and returns the figures.
 */
async function primaryKilledUnderLoad(topology: RedisTopology, primaries: () => Promise<string[]>, kill: (visitors: Visitor[]) => Promise<void>, recovered: () => Promise<void>) {
  const namespace = createTopologyNamespace(topology);
  const site = await createSessionApp('redis', { namespace });
  const server = site.app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const visitors = Array.from({ length: VISITORS }, () => new Visitor(baseUrl));
    for (const visitor of visitors) assert.equal((await visitor.request('/write?v=0', { method: 'POST' })).status, 200);
    const sessionIds = visitors.map((visitor) => visitor.rawSessionId);
    for (const address of await primaries()) await replicasCaughtUp(address);

    const outcomes = visitors.map((): Outcome[] => []);
    const acknowledged = visitors.map(() => 0);
    let recoveredAt = Number.POSITIVE_INFINITY;
    let stop = false;
    const load = visitors.map(async (visitor, i) => {
      for (let v = 1; !stop; v++) {
        const res = await visitor.request(`/write?v=${v}`, { method: 'POST' });
        await res.arrayBuffer();
        outcomes[i]!.push({ at: Date.now(), status: res.status });
        if (res.status === 200) acknowledged[i] = v;
        await sleep(20);
      }
    });
    await sleep(LOAD_BEFORE_KILL_MS);
    const killedAt = Date.now();
    await kill(visitors);
    await recovered();
    recoveredAt = Date.now();
    const settled = () => outcomes.every((mine) => mine.filter(({ at, status }) => at > recoveredAt && status === 200).length >= 3);
    await waitUntil('every visitor writes again after the failover', settled, RECOVERY_LIMIT_MS).finally(() => {
      stop = true;
    });
    await Promise.all(load);

    const statuses = new Set(outcomes.flat().map(({ status }) => status));
    assert.deepEqual([...statuses].filter((status) => status !== 200 && status !== 503), [], 'every answer is 200 or 503, never a 500');
    // A visitor's longest time without a write: between two successful writes, whether the requests in between
    // failed with 503 or waited for the new primary.
    let longestRunMs = 0;
    for (const mine of outcomes) {
      const successes = mine.filter(({ status }) => status === 200).map(({ at }) => at);
      for (let i = 1; i < successes.length; i++) longestRunMs = Math.max(longestRunMs, successes[i]! - successes[i - 1]!);
    }
    assert.ok(longestRunMs <= LONGEST_503_RUN_LIMIT_MS, `a visitor went ${longestRunMs} ms without a successful write`);
    const lost = visitors.filter((visitor, i) => visitor.rawSessionId !== sessionIds[i]).length;
    assert.equal(lost, 0, 'no session created (and replicated) before the failover is lost');
    for (const [i, visitor] of visitors.entries()) {
      const shown = (await (await visitor.request('/read')).json()) as { data: { v?: string } };
      assert.equal(shown.data.v, String(acknowledged[i]), 'the last acknowledged write is the one stored');
    }
    const failed = outcomes.flat().filter(({ status }) => status === 503).length;
    return { longestRunMs, failed, requests: outcomes.flat().length, lost, failoverMs: recoveredAt - killedAt };
  } finally {
    server.close();
    await site.close();
  }
}

test('Redis Cluster: a primary killed under load costs 503s for the failover window only, and no session', { timeout: 90_000 }, async (t) => {
  const cluster = await startPrivateCluster();
  try {
    const layout = new RedisLayout('any:');
    const figures = await primaryKilledUnderLoad(
      { clusterNodes: cluster.nodes },
      () => cluster.primaries(),
      // The primary that holds the first visitor's session.
      (visitors) => cluster.killPrimaryOf(slotOfShard(layout.shardFor(publicIdOf(visitors[0]!.rawSessionId!)).shard)).then(() => undefined),
      () => cluster.untilHealthy(30_000),
    );
    t.diagnostic(`cluster failover: ${JSON.stringify(figures)}`);
  } finally {
    await cluster.stop();
  }
});

test('Sentinel: the primary killed under load costs 503s for the failover window only, and no session', { timeout: 90_000 }, async (t) => {
  const sentinel = await startPrivateSentinel();
  try {
    let killed = '';
    const figures = await primaryKilledUnderLoad(
      { sentinels: sentinel.sentinels, sentinelName: sentinel.name },
      async () => [await sentinel.primary()],
      async () => {
        killed = await sentinel.killPrimary();
      },
      async () => {
        await sentinel.untilFailedOver(killed, 30_000);
      },
    );
    t.diagnostic(`sentinel failover: ${JSON.stringify(figures)}`);
  } finally {
    await sentinel.stop();
  }
});
