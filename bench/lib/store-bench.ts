/**
 * The sweep, listing and memory benchmarks of sessionkeeper on one store:
 * server memory with few versus many stored sessions, the dashboard's store
 * calls with many live sessions, and purging as many expired sessions while
 * reads go on, with read p99 during the purge against p99 at rest.
 */
import { encodeCursor } from '../../middleware/cursor.ts';
import type { SessionStore, StoreKind } from '../../middleware/store.ts';
import { FileStore } from '../../middleware/stores/file-store.ts';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';
import { RedisStore } from '../../middleware/stores/redis-store.ts';
import { DATABASE_URL, REDIS_URL, type BenchNamespace } from '../servers/harness.ts';
import { bulkLoad, bulkRecord, bulkSessionId } from './bulk-load.ts';
import { createSessionPool, drive, startLoad } from './load.ts';
import { createBenchNamespace, removeBenchNamespace } from './namespaces.ts';
import { ServerProcess } from './server-process.ts';
import { median } from './stats.ts';

export interface StoreBenchSettings {
  /** Live sessions of the "many" case, per store (1,000,000 on Redis and PostgreSQL, 200,000 on files). */
  manySessions: Record<StoreKind, number>;
  /** Expired sessions added beside them for the sweep (100,000). */
  expiredSessions: number;
  /** Stored sessions of the "few" case (1,000). */
  fewSessions: number;
  /** Sessions the reads during the benchmarks cycle through. */
  poolSize: number;
  /** Length of the read run at rest and of the warm-up before a memory reading. */
  readSeconds: number;
  /** How often each listing call is timed (the median is reported). */
  listRepeats: number;
  /** A purge still running after this long is stopped and reported as over. */
  purgeBudgetSeconds: number;
}

export interface MemoryReading {
  rssBytes: number;
  heapUsedBytes: number;
}

export interface StoreBenchResult {
  kind: StoreKind;
  /** Live sessions stored for the listing, the sweep and the "many" memory reading. */
  stored: number;
  /** Expired sessions added for the sweep. */
  expired: number;
  memoryFew: MemoryReading;
  memoryMany: MemoryReading;
  firstPageActivityMs: number;
  firstPageExpiryMs: number;
  deepPageMs: number;
  countMs: number;
  /** Seconds the purge took; undefined when it overran the budget. */
  purgeSeconds: number | undefined;
  purged: number;
  restP99Ms: number;
  purgeP99Ms: number;
  readErrors: number;
}

/** sessionkeeper's store of `kind` in a run's namespace, connecting on its own. */
export function openStore(kind: StoreKind, namespace: BenchNamespace): SessionStore {
  if (kind === 'redis') return new RedisStore({ url: REDIS_URL, prefix: namespace.redisPrefix });
  if (kind === 'postgres') return new PostgresStore({ connectionString: DATABASE_URL, table: namespace.pgTable });
  return new FileStore({ dir: namespace.fileDir });
}

type Timed<T> = T & { ms: number };

/** Starts a sessionkeeper server with a pool of its own sessions, read for a while, listed and swept once. */
async function startWarmServer(kind: StoreKind, namespace: BenchNamespace, settings: StoreBenchSettings) {
  const server = await ServerProcess.start('sessionkeeper.ts', [kind], namespace, { nodeFlags: ['--expose-gc'] });
  const cookies = await createSessionPool(server.port, settings.poolSize);
  const warmup = await drive(server.port, { scenario: 'read', cookies, durationSeconds: settings.readSeconds });
  await server.request('list', { sort: 'activity' });
  await server.request('count');
  await server.request('sweep');
  return { server, cookies, warmupErrors: warmup.errors };
}

async function memoryOf(server: ServerProcess): Promise<MemoryReading> {
  const usage = await server.request<NodeJS.MemoryUsage>('memory');
  return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed };
}

async function medianMs(repeats: number, call: () => Promise<Timed<object>>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push((await call()).ms);
  return median(times);
}

export async function runStoreBench(kind: StoreKind, settings: StoreBenchSettings, progress: (line: string) => void): Promise<StoreBenchResult> {
  const namespace = await createBenchNamespace();
  const store = openStore(kind, namespace);
  const { fewSessions: few, expiredSessions: expired } = settings;
  const many = settings.manySessions[kind];
  try {
    await store.init();
    const baseNow = Date.now();
    let started = performance.now();
    await bulkLoad(kind, namespace, store, { from: 0, count: few, expired: false, baseNow });
    const small = await startWarmServer(kind, namespace, settings);
    const memoryFew = await memoryOf(small.server);
    await small.server.stop();

    await bulkLoad(kind, namespace, store, { from: few, count: many - few, expired: false, baseNow });
    progress(`${kind}: ${many.toLocaleString('en-US')} live sessions loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const { server, cookies, warmupErrors } = await startWarmServer(kind, namespace, settings);
    try {
      const memoryMany = await memoryOf(server);
      const live = await server.request<Timed<{ live: number }>>('count');
      if (live.live < many) throw new Error(`${kind}: expected at least ${many} live sessions, the store counts ${live.live}`);
      const list = (sort: string, cursor?: string) => server.request<Timed<{ listed: number }>>('list', { sort, cursor }, 60_000);
      const middle = Math.floor(many / 2) - 1;
      const deepCursor = encodeCursor({ score: bulkRecord(baseNow, false, middle).lastSeenAt, id: bulkSessionId(namespace, false, middle) });
      const firstPageActivityMs = await medianMs(settings.listRepeats, () => list('activity'));
      const firstPageExpiryMs = await medianMs(settings.listRepeats, () => list('expiry'));
      const deepPageMs = await medianMs(settings.listRepeats, () => list('activity', deepCursor));
      const countMs = await medianMs(settings.listRepeats, () => server.request<Timed<object>>('count', {}, 60_000));
      progress(`${kind}: first page ${firstPageActivityMs.toFixed(1)} ms, deep page ${deepPageMs.toFixed(1)} ms`);

      started = performance.now();
      await bulkLoad(kind, namespace, store, { from: 0, count: expired, expired: true, baseNow: Date.now() });
      progress(`${kind}: ${expired.toLocaleString('en-US')} expired sessions loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      const rest = await drive(server.port, { scenario: 'read', cookies, durationSeconds: settings.readSeconds });
      // The reads run exactly as long as the purge: started together, stopped when it ends.
      const during = startLoad(server.port, { scenario: 'read', cookies, durationSeconds: settings.purgeBudgetSeconds + 10 });
      let purgeSeconds: number | undefined;
      let purged = 0;
      try {
        const sweep = await server.request<Timed<{ expired: number }>>('sweep', {}, settings.purgeBudgetSeconds * 1000);
        purgeSeconds = sweep.ms / 1000;
        purged = sweep.expired;
      } catch {
        await server.kill(); // a purge over budget is stopped with its process
      } finally {
        during.stop();
      }
      const duringLoad = await during.done;
      progress(`${kind}: purged ${purged.toLocaleString('en-US')} in ${purgeSeconds === undefined ? `> ${settings.purgeBudgetSeconds}` : purgeSeconds.toFixed(2)} s`);
      return {
        kind,
        stored: many,
        expired,
        memoryFew,
        memoryMany,
        firstPageActivityMs,
        firstPageExpiryMs,
        deepPageMs,
        countMs,
        purgeSeconds,
        purged,
        restP99Ms: rest.p99Ms,
        purgeP99Ms: duringLoad.p99Ms,
        readErrors: small.warmupErrors + warmupErrors + rest.errors + (purgeSeconds === undefined ? 0 : duringLoad.errors),
      };
    } finally {
      await server.stop();
    }
  } finally {
    await store.close();
    await removeBenchNamespace(namespace);
  }
}
