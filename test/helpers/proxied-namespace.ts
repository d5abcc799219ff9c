/**
 * A fresh Redis prefix or PostgreSQL table (`createNamespace`) reached
 * through a FaultProxy, for the fault tests: stores opened with `open()` talk
 * through the proxy, stores opened with `openDirect()` talk to the server
 * itself (to inspect or empty the namespace while the proxy is cut).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { SessionStore } from '../../middleware/store.ts';
import { FaultProxy } from './fault-proxy.ts';
import { createNamespace, TEST_DATABASE_URL, TEST_REDIS_URL, type StoreNamespace } from './store-fixtures.ts';

export type NetworkStoreKind = 'redis' | 'postgres';
export const NETWORK_STORE_KINDS: readonly NetworkStoreKind[] = ['redis', 'postgres'];

export interface ProxiedNamespace {
  kind: NetworkStoreKind;
  /** The namespace itself, as the server sees it. */
  namespace: StoreNamespace;
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
  const namespace = await createNamespace(kind);
  const serverUrl = kind === 'redis' ? TEST_REDIS_URL : TEST_DATABASE_URL;
  const { hostname, port } = new URL(serverUrl);
  const proxy = await FaultProxy.start({ host: hostname, port: Number(port) });
  const applicationName = `sktest_fault_${randomBytes(6).toString('hex')}`;
  const proxiedUrl = new URL(proxy.rewrite(serverUrl));
  if (kind === 'postgres') proxiedUrl.searchParams.set('application_name', applicationName);
  return {
    kind,
    namespace,
    proxy,
    applicationName,
    open: () => namespace.open(proxiedUrl.toString()),
    openDirect: () => namespace.open(),
    async remove() {
      await proxy.close();
      await namespace.remove();
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
