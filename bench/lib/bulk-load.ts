/**
 * Fills a store quickly with sessions of the store's own data model, for the
 * sweep, listing and memory benchmarks. Session `index` of a kind (live or
 * expired) has a deterministic public id and times, so a benchmark can name
 * the cursor of any position without listing up to it.
 *
 * Redis and live file sessions go through the store's own `create()` in
 * parallel batches (node-redis pipelines concurrent commands). Expired file
 * sessions all share one set of times, so they are copies of one file the
 * store wrote, each with its times set as the store sets them (mtime = expiry,
 * atime = last seen): no fsync per file, where `create()` would wait on the
 * disk 100,000 times. PostgreSQL gets one INSERT … SELECT generate_series
 * into the store's table, computing the same ids in SQL.
 */
import { createHash } from 'node:crypto';
import { copyFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionRecord, SessionStore, StoreKind } from '../../middleware/store.ts';
import { dataSizeBytes } from '../../middleware/store.ts';
import { SESSION_FILE_SUFFIX } from '../../middleware/stores/file-index.ts';
import { SESSION_TTL_MS, sessionPayload, type BenchNamespace } from '../servers/harness.ts';
import { benchPool } from './namespaces.ts';

const HOUR_MS = 3_600_000;
const CONCURRENCY: Record<StoreKind, number> = { redis: 1000, file: 16, postgres: 1 };

export interface BulkBatch {
  /** First index, and how many sessions. */
  from: number;
  count: number;
  expired: boolean;
  /** The clock all times are derived from. */
  baseNow: number;
}

function seedOf(namespace: BenchNamespace, expired: boolean): string {
  return `${namespace.redisPrefix}${expired ? 'expired' : 'live'}:`;
}

/** The public id of bulk session `index`. */
export function bulkSessionId(namespace: BenchNamespace, expired: boolean, index: number): string {
  return createHash('sha256').update(`${seedOf(namespace, expired)}${index}`).digest('base64url');
}

/**
 * Live sessions were last seen 1 s + index ms before `baseNow`, so the activity
 * order is the index order; expired ones expired a minute + index ms before it.
 */
export function bulkRecord(baseNow: number, expired: boolean, index: number): SessionRecord {
  const data = sessionPayload(0);
  if (expired) return { data, createdAt: baseNow - 2 * HOUR_MS, lastSeenAt: baseNow - HOUR_MS - index, expiresAt: baseNow - 60_000 - index };
  const lastSeenAt = baseNow - 1000 - index;
  return { data, createdAt: baseNow - HOUR_MS, lastSeenAt, expiresAt: lastSeenAt + SESSION_TTL_MS };
}

export async function bulkLoad(kind: StoreKind, namespace: BenchNamespace, store: SessionStore, batch: BulkBatch): Promise<void> {
  if (kind === 'postgres') return insertWithGenerateSeries(namespace, batch);
  if (kind === 'file' && batch.expired) return copyExpiredFiles(namespace, store, batch);
  const end = batch.from + batch.count;
  for (let start = batch.from; start < end; start += CONCURRENCY[kind]) {
    const indexes = Array.from({ length: Math.min(CONCURRENCY[kind], end - start) }, (_, offset) => start + offset);
    await Promise.all(indexes.map((index) => store.create(bulkSessionId(namespace, batch.expired, index), bulkRecord(batch.baseNow, batch.expired, index))));
  }
}

/** Expired file sessions: copies of one the store wrote, all with the times of session `from`. */
async function copyExpiredFiles(namespace: BenchNamespace, store: SessionStore, { from, count, baseNow }: BulkBatch): Promise<void> {
  const record = bulkRecord(baseNow, true, from);
  const pathOf = (index: number) => join(namespace.fileDir, `${bulkSessionId(namespace, true, index)}${SESSION_FILE_SUFFIX}`);
  await store.create(bulkSessionId(namespace, true, from), record);
  const end = from + count;
  for (let start = from + 1; start < end; start += CONCURRENCY.file) {
    const indexes = Array.from({ length: Math.min(CONCURRENCY.file, end - start) }, (_, offset) => start + offset);
    await Promise.all(indexes.map(async (index) => {
      await copyFile(pathOf(from), pathOf(index));
      await utimes(pathOf(index), record.lastSeenAt / 1000, record.expiresAt / 1000);
    }));
  }
}

/** The same ids (base64url SHA-256 of seed + index) and times as `bulkSessionId`/`bulkRecord`, computed by PostgreSQL. */
async function insertWithGenerateSeries(namespace: BenchNamespace, { from, count, expired, baseNow }: BulkBatch): Promise<void> {
  const { data, createdAt, lastSeenAt, expiresAt } = bulkRecord(baseNow, expired, 0);
  await benchPool().query(
    `INSERT INTO "${namespace.pgTable}" (id, data, key_names, created_at_ms, last_seen_at_ms, expires_at_ms, size_bytes)
     SELECT translate(rtrim(encode(sha256(convert_to($1 || g::text, 'UTF8')), 'base64'), '='), '+/', '-_'),
            $2::jsonb, $3::json, $4::bigint, $5::bigint - g, $6::bigint - g, $7
     FROM generate_series($8::int, $9::int) AS g`,
    [seedOf(namespace, expired), JSON.stringify(data), JSON.stringify(Object.keys(data)), createdAt, lastSeenAt, expiresAt, dataSizeBytes(data), from, from + count - 1],
  );
}
