/**
 * Real stores on fresh namespaces for tests: a temporary directory, a unique
 * Redis key prefix, a unique PostgreSQL table. Never a mock. The one way a
 * test gets a place for its sessions, whether it opens stores itself, builds
 * an app on it (as settings) or starts a server process on it (as
 * environment variables).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';
import { optionsFromEnv, type SessionkeeperOptions } from '../../middleware/config.ts';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { FileStore } from '../../middleware/stores/file-store.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { eventLogTableNames } from '../../middleware/event-log/postgres-event-log.ts';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';

export const STORE_KINDS: readonly StoreKind[] = ['file', 'redis', 'postgres'];
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Where one test's sessions live, so more stores, apps or server processes can be opened on the same data. */
export interface StoreNamespace {
  kind: StoreKind;
  /**
   * Opens a store on this namespace (call init() yourself). `url` reaches the
   * same Redis or PostgreSQL server another way (through a proxy, say).
   */
  open(url?: string): SessionStore;
  /** Removes everything the namespace holds, the dashboard's namespace included. */
  remove(): Promise<void>;
  /** The environment variables that point a sessionkeeper (or a server process) at this namespace. */
  env: Record<string, string>;
  /** The same as library settings. */
  settings: SessionkeeperOptions;
}

export async function createNamespace(kind: StoreKind): Promise<StoreNamespace> {
  const suffix = randomBytes(6).toString('hex');
  const withSettings = (namespace: Omit<StoreNamespace, 'settings'>): StoreNamespace => ({ ...namespace, settings: optionsFromEnv(namespace.env) });
  switch (kind) {
    case 'file': {
      const dir = await mkdtemp(join(tmpdir(), 'sessionkeeper-test-'));
      return withSettings({
        kind,
        open: () => new FileStore({ dir }),
        remove: () => rm(dir, { recursive: true, force: true }),
        env: { SESSION_STORE: 'file', SESSION_FILE_DIR: dir },
      });
    }
    case 'redis': {
      const prefix = `sktest:${suffix}:`;
      return withSettings({
        kind,
        open: (url = TEST_REDIS_URL) => new RedisStore({ url, prefix }),
        remove: () => removeRedisKeys(prefix),
        env: { SESSION_STORE: 'redis', REDIS_URL: TEST_REDIS_URL, SESSION_REDIS_PREFIX: prefix },
      });
    }
    case 'postgres': {
      const table = `sktest_${suffix}`;
      return withSettings({
        kind,
        open: (url = TEST_DATABASE_URL) => new PostgresStore({ connectionString: url, table }),
        remove: () => dropTables(table),
        env: { SESSION_STORE: 'postgres', DATABASE_URL: TEST_DATABASE_URL, SESSION_PG_TABLE: table },
      });
    }
  }
}

/** Every key under the prefix, namespaces (the dashboard's sign-ins) included. */
async function removeRedisKeys(prefix: string): Promise<void> {
  const client = createClient({ url: TEST_REDIS_URL });
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.unlink(keys);
    }
  } finally {
    await client.close();
  }
}

/** The table, that of its namespace (the dashboard's sign-ins) and the event log's two. */
async function dropTables(table: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const events = eventLogTableNames(table);
    await client.query(`DROP TABLE IF EXISTS "${table}", "${table}_admin", "${events.log}", "${events.tally}"`);
  } finally {
    await client.end();
  }
}

/** Runs `run` on a real file store in a fresh directory of its own (initialised), then closes and removes both. */
export async function withFileStore(run: (store: FileStore, dir: string) => Promise<void>): Promise<void> {
  const namespace = await createNamespace('file');
  const dir = namespace.env.SESSION_FILE_DIR!;
  const store = new FileStore({ dir });
  try {
    await store.init();
    await run(store, dir);
  } finally {
    await store.close();
    await namespace.remove();
  }
}

/** A Redis Cluster's seed nodes, or Sentinels and the name of their primary, as the settings take them. */
export type RedisTopology = { clusterNodes: string } | { sentinels: string; sentinelName: string };

/**
 * A fresh prefix on a private Redis Cluster or Sentinel-watched primary (private-cluster.ts,
 * private-sentinel.ts). Its keys go with the private servers, which the test stops: `remove` has nothing to do.
 */
export function createTopologyNamespace(topology: RedisTopology): StoreNamespace {
  const prefix = `sktest:${randomBytes(6).toString('hex')}:`;
  const env: Record<string, string> =
    'clusterNodes' in topology
      ? { SESSION_STORE: 'redis', REDIS_CLUSTER_NODES: topology.clusterNodes, SESSION_REDIS_PREFIX: prefix }
      : { SESSION_STORE: 'redis', REDIS_SENTINELS: topology.sentinels, REDIS_SENTINEL_NAME: topology.sentinelName, SESSION_REDIS_PREFIX: prefix };
  const open = () =>
    'clusterNodes' in topology
      ? new RedisStore({ clusterNodes: topology.clusterNodes.split(','), prefix })
      : new RedisStore({ sentinels: topology.sentinels.split(','), sentinelName: topology.sentinelName, prefix });
  return { kind: 'redis', open, remove: async () => undefined, env, settings: optionsFromEnv(env) };
}

/** The conformance suite's fixture on a private cluster or Sentinel setup: a store, its peers, all closed at the end. */
export function topologyFixture(topology: RedisTopology): () => Promise<{ store: SessionStore; openPeer(): Promise<SessionStore>; cleanup(): Promise<void> }> {
  return async () => {
    const namespace = createTopologyNamespace(topology);
    const stores = [namespace.open()];
    return {
      store: stores[0]!,
      async openPeer() {
        stores.push(namespace.open());
        return stores.at(-1)!;
      },
      async cleanup() {
        await Promise.all(stores.map((store) => store.close()));
      },
    };
  };
}
