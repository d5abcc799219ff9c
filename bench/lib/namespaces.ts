/**
 * Isolated places for one run's data: a unique Redis key prefix, PostgreSQL
 * table and temporary directory, and their removal afterwards. Nothing outside
 * a namespace is ever touched.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import { eventLogTableNames } from '../../middleware/event-log/postgres-event-log.ts';
import type { StoreKind } from '../../middleware/store.ts';
import { DATABASE_URL, REDIS_URL, type BenchNamespace } from '../servers/harness.ts';

const UNLINK_BATCH = 1000;
/** Namespaces created and not yet removed, for cleaning up after an interrupted run. */
const active = new Set<BenchNamespace>();
let redis: ReturnType<typeof createClient> | undefined;
let pool: pg.Pool | undefined;

/** The orchestrator's own Redis client, for cleaning up and bulk loading. */
export async function benchRedis(): Promise<ReturnType<typeof createClient>> {
  if (!redis) {
    redis = createClient({ url: REDIS_URL });
    await redis.connect();
  }
  return redis;
}

/** The orchestrator's own PostgreSQL pool. */
export function benchPool(): pg.Pool {
  pool ??= new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  return pool;
}

export async function createBenchNamespace(): Promise<BenchNamespace> {
  const suffix = randomBytes(6).toString('hex');
  const namespace = {
    redisPrefix: `skbench:${suffix}:`,
    pgTable: `skbench_${suffix}`,
    fileDir: await mkdtemp(join(tmpdir(), 'skbench-')),
  };
  active.add(namespace);
  return namespace;
}

/**
 * Removes everything a run left: keys under the prefix (SCAN, never KEYS; the event log's stream and tallies
 * are among them), the table and the event log's two beside it, the directory.
 */
export async function removeBenchNamespace(namespace: BenchNamespace): Promise<void> {
  const client = await benchRedis();
  let batch: string[] = [];
  for await (const keys of client.scanIterator({ MATCH: `${namespace.redisPrefix}*`, COUNT: UNLINK_BATCH })) {
    batch.push(...keys);
    if (batch.length >= UNLINK_BATCH) {
      await client.unlink(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await client.unlink(batch);
  const { log, tally } = eventLogTableNames(namespace.pgTable);
  await benchPool().query(`DROP TABLE IF EXISTS "${namespace.pgTable}", "${log}", "${tally}"`);
  await rm(namespace.fileDir, { recursive: true, force: true });
  active.delete(namespace);
}

/**
 * Library options (`openSessionkeeper`, `createSessionkeeper`) for a store of `kind` in `namespace`: as the
 * current store, or with `previous`, as the store of a switch's `SESSION_STORE_PREVIOUS` (prefixed names).
 */
export function librarySettings(kind: StoreKind, namespace: BenchNamespace, previous = false): Record<string, string> {
  const settings: Record<string, string> =
    kind === 'file' ? { fileDir: namespace.fileDir }
      : kind === 'redis' ? { redisUrl: REDIS_URL, redisPrefix: namespace.redisPrefix }
        : { databaseUrl: DATABASE_URL, pgTable: namespace.pgTable };
  if (!previous) return { store: kind, ...settings };
  const prefixed = Object.fromEntries(Object.entries(settings).map(([key, value]) => [`previous${key[0]!.toUpperCase()}${key.slice(1)}`, value]));
  return { previousStore: kind, ...prefixed };
}

/** Removes every namespace still in use (an interrupted run); failures are ignored, the process is ending. */
export async function removeActiveNamespaces(): Promise<void> {
  for (const namespace of [...active]) await removeBenchNamespace(namespace).catch(() => undefined);
}

/** Closes the orchestrator's connections. */
export async function closeBenchConnections(): Promise<void> {
  await redis?.close();
  await pool?.end();
  redis = undefined;
  pool = undefined;
}
