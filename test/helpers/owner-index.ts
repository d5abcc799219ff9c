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
import { RedisLayout } from '../../middleware/stores/redis-layout.ts';
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
        // Each shard's owner indexes (members <digest>:<score>:<id>) and owner map (id → digest and owner).
        const perShard = await Promise.all(new RedisLayout(redisPrefix!).shards.map(async (shard) => {
          const range = [`[${digest}:`, `(${digest};`] as const;
          const opts = { BY: 'LEX' } as const;
          const [byActivity, byExpiry, links] = await Promise.all([client.zRange(shard.ownerActivity, ...range, opts), client.zRange(shard.ownerExpiry, ...range, opts), client.hGetAll(shard.owners)]);
          const idOf = (member: string) => member.slice(member.indexOf(':', 65) + 1);
          return [...byActivity.map(idOf), ...byExpiry.map(idOf), ...Object.keys(links).filter((id) => links[id]!.startsWith(digest))];
        }));
        return perShard.flat();
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
