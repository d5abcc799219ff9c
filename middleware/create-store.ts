import type { StoreConnection } from './config.ts';
import type { SessionStore } from './store.ts';
import { FileStore } from './stores/file-store.ts';
import { PostgresStore } from './stores/postgres-store.ts';
import type { RedisTarget } from './stores/redis-connection.ts';
import { RedisStore } from './stores/redis-store.ts';

/**
 * The store a connection names (the current store's, or the previous one's during a backend switch). Redis
 * keeps expired data for a grace of several sweep intervals so that the sweeper, not Redis, removes and logs it.
 */
export function createStore(
  connection: StoreConnection,
  sweepIntervalMs: number,
  onBackgroundError: (err: Error) => void,
  onStepFailure: (err: Error) => void = onBackgroundError,
): SessionStore {
  switch (connection.store) {
    case 'file':
      return new FileStore({ dir: connection.fileDir });
    case 'redis':
      return new RedisStore({
        ...redisTargetOf(connection),
        prefix: connection.redisPrefix,
        expiryGraceMs: Math.max(10 * 60_000, 3 * sweepIntervalMs),
        onBackgroundError,
        onStepFailure,
      });
    case 'postgres':
      return new PostgresStore({ connectionString: connection.databaseUrl!, table: connection.pgTable, onBackgroundError });
  }
}

/** A cluster's seed nodes or the Sentinels when set, else the URL; the URL's user and password go to the cluster's nodes or the Sentinels' primary. */
function redisTargetOf({ redisUrl, redisClusterNodes, redisSentinels, redisSentinelName }: StoreConnection): RedisTarget {
  if (redisClusterNodes) return { clusterNodes: redisClusterNodes, credentialsUrl: redisUrl };
  if (redisSentinels) return { sentinels: redisSentinels, sentinelName: redisSentinelName, credentialsUrl: redisUrl };
  return { url: redisUrl };
}
