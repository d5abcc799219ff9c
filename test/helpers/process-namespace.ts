/**
 * A fresh namespace of a store (directory, Redis prefix or PostgreSQL table)
 * as the environment of a server process started with `startServerProcess`.
 */
import { randomBytes } from 'node:crypto';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { createNamespace, TEST_DATABASE_URL, TEST_REDIS_URL } from './store-fixtures.ts';

export interface ProcessNamespace {
  /** SESSION_STORE and where it keeps sessions (TEST_REDIS_PREFIX for Redis). */
  env: Record<string, string>;
  /** A store of this process's own on the same sessions (call init() yourself), to look behind the server. */
  open(): SessionStore;
  /** Removes everything the namespace holds. */
  remove(): Promise<void>;
}

export async function createProcessNamespace(kind: StoreKind): Promise<ProcessNamespace> {
  if (kind === 'redis') {
    const prefix = `sktest:proc:${randomBytes(6).toString('hex')}:`;
    return {
      env: { SESSION_STORE: 'redis', REDIS_URL: TEST_REDIS_URL, TEST_REDIS_PREFIX: prefix },
      open: () => new RedisStore({ url: TEST_REDIS_URL, prefix }),
      async remove() {
        const store = new RedisStore({ url: TEST_REDIS_URL, prefix });
        await store.init();
        await store.destroyAll();
        await store.close();
      },
    };
  }
  const namespace = await createNamespace(kind);
  const env: Record<string, string> =
    kind === 'file'
      ? { SESSION_STORE: 'file', SESSION_FILE_DIR: namespace.settings.fileDir! }
      : { SESSION_STORE: 'postgres', DATABASE_URL: TEST_DATABASE_URL, SESSION_PG_TABLE: namespace.settings.pgTable! };
  return { env, open: () => namespace.open(), remove: () => namespace.remove() };
}
