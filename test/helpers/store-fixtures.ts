/**
 * Real stores on fresh namespaces for tests: a temporary directory, a unique
 * Redis key prefix, a unique PostgreSQL table. Never a mock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { FileStore } from '../../middleware/stores/file-store.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';

export const STORE_KINDS: readonly StoreKind[] = ['file', 'redis', 'postgres'];
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Where one test's sessions live, so more stores can be opened on the same data. */
export interface StoreNamespace {
  kind: StoreKind;
  /** Opens a store on this namespace (call init() yourself). */
  open(): SessionStore;
  /** Removes everything the namespace holds. */
  remove(): Promise<void>;
  /** The settings that point a sessionkeeper config at this namespace (Redis needs `open()` instead: prefixes are not a setting). */
  settings: { fileDir?: string; pgTable?: string; databaseUrl?: string; redisUrl?: string };
}

export async function createNamespace(kind: StoreKind): Promise<StoreNamespace> {
  const suffix = randomBytes(6).toString('hex');
  switch (kind) {
    case 'file': {
      const dir = await mkdtemp(join(tmpdir(), 'sessionkeeper-test-'));
      return {
        kind,
        open: () => new FileStore({ dir }),
        remove: () => rm(dir, { recursive: true, force: true }),
        settings: { fileDir: dir },
      };
    }
    case 'redis': {
      const prefix = `sktest:${suffix}:`;
      return {
        kind,
        open: () => new RedisStore({ url: TEST_REDIS_URL, prefix }),
        // Every key under the prefix, namespaces (the dashboard's sign-ins) included.
        remove: async () => {
          const { createClient } = await import('redis');
          const client = createClient({ url: TEST_REDIS_URL });
          await client.connect();
          for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
            if (keys.length > 0) await client.unlink(keys);
          }
          await client.close();
        },
        settings: { redisUrl: TEST_REDIS_URL },
      };
    }
    case 'postgres': {
      const table = `sktest_${suffix}`;
      return {
        kind,
        open: () => new PostgresStore({ connectionString: TEST_DATABASE_URL, table }),
        remove: async () => {
          const { default: pg } = await import('pg');
          const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
          await client.connect();
          // The table and those of its namespaces (the dashboard's sign-ins).
          await client.query(`DROP TABLE IF EXISTS "${table}", "${table}_admin"`);
          await client.end();
        },
        settings: { pgTable: table, databaseUrl: TEST_DATABASE_URL },
      };
    }
  }
}
