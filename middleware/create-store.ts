import type { SessionkeeperConfig } from './config.ts';
import type { SessionStore } from './store.ts';
import { FileStore } from './stores/file-store.ts';
import { PostgresStore } from './stores/postgres-store.ts';
import { RedisStore } from './stores/redis-store.ts';

/**
 * The store the configuration names. Redis keeps expired data for a grace of
 * several sweep intervals so that the sweeper, not Redis, removes and logs it.
 */
export function createStore(config: SessionkeeperConfig, onBackgroundError: (err: Error) => void): SessionStore {
  switch (config.store) {
    case 'file':
      return new FileStore({ dir: config.fileDir });
    case 'redis':
      return new RedisStore({
        url: config.redisUrl,
        prefix: config.redisPrefix,
        expiryGraceMs: Math.max(10 * 60_000, 3 * config.sweepIntervalMs),
        onBackgroundError,
      });
    case 'postgres':
      return new PostgresStore({ connectionString: config.databaseUrl!, table: config.pgTable, onBackgroundError });
  }
}
