/**
 * Listing and ending one owner's sessions reads that owner's index and
 * sessions, never the others (the "an owner with 10,000 sessions
 * among 100,000"; bench:owners measures the time at that scale). Each store
 * proves it its own way: Redis with the other sessions poisoned (any read of
 * them fails), PostgreSQL by the plan of its statements, the file store by the
 * paths it touches.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import type { SessionRecord, SessionStore } from '../../middleware/store.ts';
import { createNamespace, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/store-fixtures.ts';
import { RedisLayout } from '../../middleware/stores/redis-layout.ts';

const OWNED = 100;
const OTHERS = 2_000;
const newId = () => publicIdOf(newSessionId());

function record(now: number, owner?: string): SessionRecord {
  return { data: { n: 1 }, createdAt: now, lastSeenAt: now, expiresAt: now + 600_000, ...(owner === undefined ? {} : { owner }) };
}

/** OWNED sessions of `ada` among OTHERS of other owners and of none; their ids. */
async function seed(store: SessionStore, now: number): Promise<{ mine: string[]; others: string[] }> {
  const mine = Array.from({ length: OWNED }, newId);
  const others = Array.from({ length: OTHERS }, newId);
  for (let start = 0; start < others.length; start += 200) {
    await Promise.all(others.slice(start, start + 200).map((id, i) => store.create(id, record(now, i % 2 ? `user${i % 50}` : undefined))));
  }
  await Promise.all(mine.map((id) => store.create(id, record(now, 'ada'))));
  return { mine, others };
}

/** Lists every page of ada's sessions in both orders, then ends them: the two calls whose cost must not depend on the others. */
async function listAndEnd(store: SessionStore, now: number, mine: string[]): Promise<void> {
  for (const sort of ['activity', 'expiry'] as const) {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list({ owner: 'ada', sort, limit: 30, cursor, now });
      ids.push(...page.sessions.map((session) => session.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(ids.sort(), [...mine].sort(), sort);
  }
  assert.deepEqual((await store.endOwnerSessions('ada', now, [])).sort(), [...mine].sort());
}

describe('one owner\'s sessions among many others', () => {
  test('redis: listing and ending work with every other session poisoned', async () => {
    const namespace = await createNamespace('redis');
    const store = namespace.open();
    const redis = createClient({ url: TEST_REDIS_URL });
    try {
      await store.init();
      await redis.connect();
      const now = Date.now();
      const { mine, others } = await seed(store, now);
      // A string where a hash was: HMGET or HGET on it fails with WRONGTYPE, and so would the script.
      const layout = new RedisLayout(namespace.env.SESSION_REDIS_PREFIX!);
      for (let start = 0; start < others.length; start += 500) {
        const batch = redis.multi();
        for (const id of others.slice(start, start + 500)) batch.set(layout.shardFor(id).session(id), 'poison');
        await batch.exec();
      }
      await assert.rejects(store.list({ sort: 'activity', limit: OTHERS + OWNED, now }), /WRONGTYPE/, 'the poison works: a full listing fails');
      await listAndEnd(store, now, mine);
    } finally {
      await redis.close();
      await store.close();
      await namespace.remove();
    }
  });

  test('postgres: the owner\'s listing and ending scan the owner index, not the table', async () => {
    const namespace = await createNamespace('postgres');
    const store = namespace.open();
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    try {
      await store.init();
      await client.connect();
      const now = Date.now();
      const { mine } = await seed(store, now);
      const table = namespace.env.SESSION_PG_TABLE!;
      await client.query(`ANALYZE "${table}"`);
      // The store's statements, as it sends them (postgres-store.ts: list with an owner, endOwnerSessions).
      const statements = [
        `SELECT id FROM "${table}" WHERE expires_at_ms > $1 AND owner = $2 ORDER BY last_seen_at_ms DESC, id DESC LIMIT 31`,
        `SELECT id FROM "${table}" WHERE expires_at_ms > $1 AND owner = $2 ORDER BY expires_at_ms ASC, id ASC LIMIT 31`,
        `DELETE FROM "${table}" WHERE owner = $2 AND expires_at_ms > $1 AND NOT (id = ANY('{}'::text[])) RETURNING id`,
      ];
      for (const sql of statements) {
        const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql.replace('$1', String(now)).replace('$2', "'ada'")}`);
        const plan = JSON.stringify(rows[0]['QUERY PLAN']);
        assert.match(plan, new RegExp(`"Index Name":"${table}_owner"`), `${sql.slice(0, 40)}… uses the owner index`);
        assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/, 'no scan of the whole table');
      }
      await listAndEnd(store, now, mine);
    } finally {
      await client.end();
      await store.close();
      await namespace.remove();
    }
  });

  test('file: listing and ending touch only the owner\'s directory and session files', async () => {
    const namespace = await createNamespace('file');
    const store = namespace.open();
    try {
      await store.init();
      const now = Date.now();
      const { mine, others } = await seed(store, now);
      const dir = namespace.env.SESSION_FILE_DIR!;
      const otherPaths = new Set(others.map((id) => join(dir, `${id}.json`)));
      const touched: string[] = [];
      const restore = spyOnPaths((path) => {
        if (otherPaths.has(path) || path === dir) touched.push(path);
      });
      try {
        await listAndEnd(store, now, mine);
      } finally {
        restore();
      }
      assert.deepEqual(touched, [], 'no other session file, and no walk of the session directory');
    } finally {
      await store.close();
      await namespace.remove();
    }
  });
});

/**
 * Reports the path of every lstat, stat, open, read and directory listing the store makes, through both the
 * callback and promise APIs, until the returned function restores them. The store imports these by name,
 * so the replacements reach it through syncBuiltinESMExports.
 */
function spyOnPaths(report: (path: string) => void): () => void {
  const originals: [object, string, unknown][] = [];
  const wrap = (module: Record<string, unknown>, name: string) => {
    const original = module[name] as (...args: unknown[]) => unknown;
    originals.push([module, name, original]);
    module[name] = function (this: unknown, path: unknown, ...rest: unknown[]) {
      if (typeof path === 'string') report(path);
      return original.call(this, path, ...rest);
    };
  };
  const sync = fs as unknown as Record<string, unknown>;
  for (const name of ['lstatSync', 'statSync', 'openSync', 'readFileSync', 'open', 'opendir', 'readdir', 'readdirSync', 'unlink']) wrap(sync, name);
  const promises = fsPromises as unknown as Record<string, unknown>;
  for (const name of ['lstat', 'stat', 'open', 'opendir', 'readdir', 'readFile', 'unlink']) wrap(promises, name);
  syncBuiltinESMExports();
  return () => {
    for (const [module, name, original] of originals) (module as Record<string, unknown>)[name] = original;
    syncBuiltinESMExports();
  };
}
