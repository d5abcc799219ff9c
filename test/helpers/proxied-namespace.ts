/**
 * A fresh Redis prefix or PostgreSQL table reached through a FaultProxy, for
 * the fault tests: stores opened with `open()` talk through the proxy, stores
 * opened with `openDirect()` talk to the server itself (to inspect or empty
 * the namespace while the proxy is cut).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { SessionStore } from '../../middleware/store.ts';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { FaultProxy } from './fault-proxy.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './store-fixtures.ts';

export type NetworkStoreKind = 'redis' | 'postgres';
export const NETWORK_STORE_KINDS: readonly NetworkStoreKind[] = ['redis', 'postgres'];

export interface ProxiedNamespace {
  kind: NetworkStoreKind;
  proxy: FaultProxy;
  /** PostgreSQL: the application_name of every connection the proxied stores open (to find them in pg_stat_activity). */
  applicationName: string;
  /** A store on this namespace, through the proxy. */
  open(): SessionStore;
  /** A store on this namespace, straight to the server. */
  openDirect(): SessionStore;
  /** Closes the proxy and removes everything the namespace holds. */
  remove(): Promise<void>;
}

export async function createProxiedNamespace(kind: NetworkStoreKind): Promise<ProxiedNamespace> {
  const suffix = randomBytes(6).toString('hex');
  const serverUrl = new URL(kind === 'redis' ? TEST_REDIS_URL : TEST_DATABASE_URL);
  const proxy = await FaultProxy.start({ host: serverUrl.hostname, port: Number(serverUrl.port) });
  const applicationName = `sktest_fault_${suffix}`;
  if (kind === 'redis') {
    const prefix = `sktest:fault:${suffix}:`;
    const openAt = (url: string) => new RedisStore({ url, prefix });
    return {
      kind,
      proxy,
      applicationName,
      open: () => openAt(proxy.rewrite(TEST_REDIS_URL)),
      openDirect: () => openAt(TEST_REDIS_URL),
      async remove() {
        await proxy.close();
        const store = openAt(TEST_REDIS_URL);
        await store.init();
        await store.destroyAll();
        await store.close();
      },
    };
  }
  const table = `sktest_fault_${suffix}`;
  const withName = (url: string) => {
    const parsed = new URL(url);
    parsed.searchParams.set('application_name', applicationName);
    return parsed.toString();
  };
  return {
    kind,
    proxy,
    applicationName,
    open: () => new PostgresStore({ connectionString: withName(proxy.rewrite(TEST_DATABASE_URL)), table }),
    openDirect: () => new PostgresStore({ connectionString: TEST_DATABASE_URL, table }),
    async remove() {
      await proxy.close();
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`DROP TABLE IF EXISTS "${table}"`);
      await client.end();
    },
  };
}

/**
 * Ends every PostgreSQL connection with this application_name, as a database
 * restart or an operator would; returns how many it ended.
 */
export async function terminateBackends(applicationName: string): Promise<number> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query(
      'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS ended FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [applicationName],
    );
    return Number(rows[0].ended);
  } finally {
    await client.end();
  }
}
