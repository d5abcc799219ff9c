/**
 * REDIS_CLUSTER_NODES, REDIS_SENTINELS and REDIS_SENTINEL_NAME: read, checked
 * (each wrong form refused with a message naming the variable), and carried to
 * the connection of the current store, or not to a previous single Redis.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { currentConnectionOf, optionsFromEnv, previousConnectionOf, resolveConfig } from '../../middleware/config.ts';

const load = (env: Record<string, string>) => resolveConfig(optionsFromEnv(env));

describe('Redis Cluster and Sentinel settings', () => {
  test('seed nodes and Sentinels are comma-separated host:port addresses, names, IPv4 or bracketed IPv6', () => {
    assert.deepEqual(load({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,redis-b.internal:7001, [::1]:7002' }).redisClusterNodes, ['10.0.0.1:7000', 'redis-b.internal:7001', '[::1]:7002']);
    const sentinel = load({ REDIS_SENTINELS: 's1:26379,s2:26379,s3:26379', REDIS_SENTINEL_NAME: 'mymaster' });
    assert.deepEqual(sentinel.redisSentinels, ['s1:26379', 's2:26379', 's3:26379']);
    assert.equal(sentinel.redisSentinelName, 'mymaster');
    assert.deepEqual(resolveConfig({ redisClusterNodes: ['127.0.0.1:7000'] }).redisClusterNodes, ['127.0.0.1:7000']);
    const unset = load({});
    assert.equal(unset.redisClusterNodes, undefined, 'none by default: REDIS_URL is used');
    assert.equal(unset.redisSentinels, undefined);
  });

  test('a malformed address list is refused, naming the variable and the form expected', () => {
    for (const value of ['127.0.0.1', '127.0.0.1:', ':7000', 'host:port', 'a:7000,,b:7001', 'a:7000,', 'a b:7000', 'a:700000', 'a:65536', '::1:7000', 'redis://a:7000', `${'a:1,'.repeat(100)}a:1`]) {
      for (const variable of ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS']) {
        assert.throws(() => load({ [variable]: value, REDIS_SENTINEL_NAME: 'm' }), { message: new RegExp(`^${variable}=.* is not valid: expected comma-separated host:port`) }, `${variable}=${value}`);
      }
    }
    assert.throws(() => resolveConfig({ redisClusterNodes: [] }), { message: /^REDIS_CLUSTER_NODES \(option redisClusterNodes\)=\[\] is not valid/ });
    assert.throws(() => resolveConfig({ redisClusterNodes: 'a:1' as unknown as string[] }), { message: /^REDIS_CLUSTER_NODES \(option redisClusterNodes\)="a:1" is not valid/ });
  });

  test('Sentinels need the primary\'s name, the name needs Sentinels, and a cluster has no Sentinels', () => {
    assert.throws(() => load({ REDIS_SENTINELS: 's1:26379' }), { message: /^REDIS_SENTINEL_NAME is required with REDIS_SENTINELS/ });
    assert.throws(() => load({ REDIS_SENTINEL_NAME: 'mymaster' }), { message: /^REDIS_SENTINEL_NAME is set but REDIS_SENTINELS is not/ });
    assert.throws(() => load({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'a:7000' }), { message: /^REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set/ });
    for (const name of ['my master', 'x'.repeat(101), 'caf\u00e9']) {
      assert.throws(() => load({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: name }), { message: /^REDIS_SENTINEL_NAME=.* is not valid/ }, name);
    }
  });

  test('a key prefix with a brace is refused: Redis Cluster would read it as the hash tag', () => {
    for (const prefix of ['{app}:', 'app}', 'a{b']) {
      assert.throws(() => load({ SESSION_REDIS_PREFIX: prefix }), { message: /^SESSION_REDIS_PREFIX=.* is not valid: expected .* without spaces, \{ or \}/ }, prefix);
    }
    assert.equal(load({ SESSION_REDIS_PREFIX: 'a|b~c:' }).redisPrefix, 'a|b~c:', 'the characters around the braces are fine');
  });

  test('the current store takes the cluster; a previous single Redis (PREVIOUS_REDIS_URL) does not', () => {
    const config = load({
      SESSION_STORE: 'redis', REDIS_CLUSTER_NODES: 'a:7000,b:7001', SESSION_STORE_PREVIOUS: 'redis', PREVIOUS_REDIS_URL: 'redis://old:6379',
    });
    assert.deepEqual(currentConnectionOf(config).redisClusterNodes, ['a:7000', 'b:7001']);
    const previous = previousConnectionOf(config)!;
    assert.equal(previous.redisClusterNodes, undefined);
    assert.equal(previous.redisUrl, 'redis://old:6379');
    // Same cluster and prefix on both sides: not a switch at all.
    assert.throws(() => load({ SESSION_STORE: 'redis', REDIS_CLUSTER_NODES: 'a:7000', SESSION_STORE_PREVIOUS: 'redis' }), { message: /^SESSION_STORE_PREVIOUS=redis names the same sessions/ });
    assert.ok(load({ SESSION_STORE: 'redis', REDIS_CLUSTER_NODES: 'a:7000', SESSION_STORE_PREVIOUS: 'redis', PREVIOUS_SESSION_REDIS_PREFIX: 'old:' }), 'another prefix on the same cluster is a switch');
  });
});
