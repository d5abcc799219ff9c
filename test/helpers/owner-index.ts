/**
 * What a store's owner index holds for one owner, read from the backend
 * itself rather than through the store (whose listing shows only live
 * sessions): every id the index still names, live, expired or gone. Tests
 * use it to show an ending left no entry behind. The layouts are the stores'
 * own (redis-store.ts, postgres-store.ts, file-owner-index.ts).
 */
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import { ownerDigest } from '../../middleware/store.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL, type StoreNamespace } from './store-fixtures.ts';

/** Every id the owner index of `namespace` names under `owner`, sorted, without repeats. */
export async function ownerIndexEntries(namespace: StoreNamespace, owner: string): Promise<string[]> {
  const digest = ownerDigest(owner);
  const ids = await entriesOf(namespace, owner, digest);
  return [...new Set(ids)].sort();
}

async function entriesOf(namespace: StoreNamespace, owner: string, digest: string): Promise<string[]> {
  const { fileDir, redisPrefix, pgTable } = namespace.settings;
  switch (namespace.kind) {
    case 'file': {
      // The owner's marker directory, and every link from a session to the owner's digest.
      const markers = await readdir(join(fileDir!, '.owners', digest)).catch(ifMissing);
      const links = await readdir(join(fileDir!, '.owned')).catch(ifMissing);
      const linked = await Promise.all(links.map(async (id) => ((await readlink(join(fileDir!, '.owned', id)).catch(() => '')) === digest ? [id] : [])));
      return [...markers, ...linked.flat()];
    }
    case 'redis': {
      const client = createClient({ url: TEST_REDIS_URL });
      await client.connect();
      try {
        const base = `${redisPrefix}o:${digest}`;
        const [byActivity, byExpiry, links] = await Promise.all([client.zRange(`${base}:act`, 0, -1), client.zRange(`${base}:exp`, 0, -1), client.hGetAll(`${redisPrefix}own`)]);
        return [...byActivity, ...byExpiry, ...Object.keys(links).filter((id) => links[id]!.startsWith(digest))];
      } finally {
        await client.close();
      }
    }
    case 'postgres': {
      // The owner column is the index: every row of the owner, expired or not.
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        const { rows } = await client.query<{ id: string }>(`SELECT id FROM "${pgTable}" WHERE owner = $1`, [owner]);
        return rows.map((row) => row.id);
      } finally {
        await client.end();
      }
    }
  }
}

function ifMissing(error: NodeJS.ErrnoException): string[] {
  if (error.code === 'ENOENT') return [];
  throw error;
}
