import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const TABLE = `sktest_${randomBytes(4).toString('hex')}_commit`;
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });

after(async () => {
  await admin.query(`DROP TABLE IF EXISTS "${TABLE}"`);
  await admin.end();
});

/** A caller-owned pool whose clients record each statement they run, with that connection's synchronous_commit. */
function recordingPool(): { pool: pg.Pool; statements: string[] } {
  const statements: string[] = [];
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2, options: '-c synchronous_commit=off' });
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
      statements.push(typeof config === 'string' ? config : (config as { text: string }).text);
      return query(config, ...rest);
    };
  });
  return { pool, statements };
}

test('writes that remove live sessions commit synchronously even on a pool that commits asynchronously', async () => {
  const { pool, statements } = recordingPool();
  const store = new PostgresStore({ pool, table: TABLE });
  try {
    await store.init();
    const now = Date.now();
    const ids = Array.from({ length: 6 }, () => publicIdOf(newSessionId()));
    const owners = [undefined, undefined, 'ada', 'ada', 'grace', undefined];
    for (const [index, id] of ids.entries()) {
      await store.create(id, { data: {}, createdAt: now, lastSeenAt: now + index, expiresAt: now + (index + 1) * 60_000, owner: owners[index] });
    }
    const removals: Array<[string, () => Promise<unknown>, unknown]> = [
      ['destroy', () => store.destroy(ids[0]!), true],
      ['endOwnerSessions', () => store.endOwnerSessions('ada', Date.now(), [ids[3]!]), [ids[2]]],
      ['create with the cap per owner', () => store.create(ids[1]!, { data: {}, createdAt: now, lastSeenAt: now + 9, expiresAt: now + 60_000, owner: 'ada' }, 1), [{ id: ids[3], owner: 'ada' }]],
      ['evictBeyond', () => store.evictBeyond(2, Date.now(), 10), [{ id: ids[1], owner: 'ada' }]],
      ['destroyAll', () => store.destroyAll(), 2],
    ];
    for (const [name, remove, expected] of removals) {
      statements.length = 0;
      assert.deepEqual(await remove(), expected, name);
      const [begin, setting] = statements;
      assert.deepEqual([begin, setting, statements.at(-1)], ['BEGIN', 'SET LOCAL synchronous_commit TO on', 'COMMIT'], name);
      assert.ok(statements.some((statement) => /^DELETE FROM/.test(statement)), name);
    }
    const { rows } = await admin.query(`SELECT count(*)::int AS left FROM "${TABLE}"`);
    assert.equal(rows[0].left, 0);
  } finally {
    await store.close();
    await pool.end();
  }
});

test("the store's own pool commits session writes without waiting for the disk", async () => {
  const store = new PostgresStore({ connectionString: DATABASE_URL, table: TABLE });
  try {
    await store.init();
    // The pool is the store's own: its connection settings are what the store configured.
    const pool = (store as unknown as { pool: pg.Pool }).pool;
    const { rows } = await pool.query('SHOW synchronous_commit');
    assert.equal(rows[0].synchronous_commit, 'off');
  } finally {
    await store.close();
  }
});
