import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';
import { newSessionId, publicIdOf } from '../../middleware/ids.ts';
import { runStoreConformance } from '../conformance/store-suite.ts';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `sktest_${randomBytes(4).toString('hex')}`;
const SCHEMA = `${RUN}_schema`;
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
const tables: string[] = [];
let tableCount = 0;

/** A table name unique to this run, dropped in `after`. */
function newTable(): string {
  const table = `${RUN}_${tableCount++}`;
  tables.push(table);
  return table;
}

after(async () => {
  for (const table of tables) await admin.query(`DROP TABLE IF EXISTS "${table}"`);
  await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await admin.end();
});

const record = (now: number, data: Record<string, unknown> = { user: 'ada' }) => ({ data, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000 });

/** Index definitions of a table, by name. */
async function indexesOf(schema: string, table: string): Promise<Map<string, string>> {
  const { rows } = await admin.query('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2', [schema, table]);
  return new Map(rows.map((row) => [row.indexname, row.indexdef]));
}

async function closeAll(stores: PostgresStore[]): Promise<void> {
  await Promise.all(stores.map((store) => store.close()));
}

test('eight processes starting at once on a new table all succeed and create it once', async () => {
  const table = newTable();
  const stores = Array.from({ length: 8 }, () => new PostgresStore({ connectionString: DATABASE_URL, table }));
  try {
    await Promise.all(stores.map((store) => store.init()));
    const indexes = await indexesOf('public', table);
    assert.deepEqual([...indexes.keys()].sort(), [`${table}_activity`, `${table}_expiry`, `${table}_owner`, `${table}_pkey`]);
    assert.match(indexes.get(`${table}_owner`)!, /\(owner, last_seen_at_ms, id\) WHERE \(owner IS NOT NULL\)/);
    assert.match(indexes.get(`${table}_expiry`)!, /\(expires_at_ms, id\)/);
    assert.match(indexes.get(`${table}_activity`)!, /\(last_seen_at_ms, id\)/);
  } finally {
    await closeAll(stores);
  }
});

test('a schema-qualified table is created with its schema by concurrent starts, and holds sessions', async () => {
  const stores = Array.from({ length: 4 }, () => new PostgresStore({ connectionString: DATABASE_URL, table: `${SCHEMA}.sessions` }));
  try {
    await Promise.all(stores.map((store) => store.init()));
    assert.equal((await indexesOf(SCHEMA, 'sessions')).size, 4);
    const now = Date.now();
    const id = publicIdOf(newSessionId());
    await stores[0]!.create(id, record(now));
    assert.deepEqual(await stores[1]!.get(id, now), record(now));
  } finally {
    await closeAll(stores);
  }
});

test('a 63-character table name still gets three distinct indexes', async () => {
  const table = `${newTable()}_`.padEnd(63, 'x');
  tables.push(table);
  const store = new PostgresStore({ connectionString: DATABASE_URL, table });
  try {
    await store.init();
    const names = [...(await indexesOf('public', table)).keys()];
    assert.equal(names.length, 4);
    assert.ok(names.every((name) => name.length <= 63));
  } finally {
    await store.close();
  }
});

test('the constructor refuses table names that are not plain identifiers', () => {
  for (const table of ['x"; drop table y; --', 'Upper', 'a.b.c', '', 'a'.repeat(64)]) {
    assert.throws(() => new PostgresStore({ connectionString: DATABASE_URL, table }), (err: Error) => {
      assert.match(err.message, /^PostgresStore: table ".*" is not valid: expected a lower-case identifier/);
      return true;
    });
  }
});

test('location names the server and table, never the password', async () => {
  const store = new PostgresStore({ connectionString: 'postgres://postgres:hunter2@127.0.0.1:5432/test', table: 'app.sessions' });
  assert.equal(store.location, '127.0.0.1:5432/test table app.sessions');
  await store.close();
  const pool = new pg.Pool({ connectionString: DATABASE_URL });
  assert.equal(new PostgresStore({ pool }).location, 'postgres (shared pool) table sessionkeeper_sessions');
  await pool.end();
});

/** Elapsed ms of a promise that must reject. */
async function rejectionMs(promise: Promise<unknown>): Promise<number> {
  const started = Date.now();
  await assert.rejects(promise);
  return Date.now() - started;
}

test('a database that refuses connections makes every call reject quickly', async () => {
  const store = new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', table: newTable() });
  try {
    for (const call of [() => store.init(), () => store.get('x', Date.now()), () => store.ping(), () => store.count(Date.now())]) {
      assert.ok((await rejectionMs(call())) < 5_000);
    }
  } finally {
    await store.close();
  }
});

test('a database that accepts connections but never answers makes calls reject within 5 seconds', async () => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as net.AddressInfo;
  const store = new PostgresStore({ connectionString: `postgres://postgres@127.0.0.1:${port}/test`, table: newTable() });
  try {
    assert.ok((await rejectionMs(store.get('x', Date.now()))) < 5_000);
    assert.ok((await rejectionMs(store.ping())) < 5_000);
  } finally {
    await store.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

/** A TCP relay to PostgreSQL that can be switched off, to play a database that is down and comes back. */
async function startRelay() {
  let up = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!up) return client.destroy();
    const upstream = net.connect(5432, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `postgres://postgres@127.0.0.1:${(server.address() as net.AddressInfo).port}/test`,
    setUp: (value: boolean) => (up = value),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a store whose database was down at start creates its table on the first call after it comes back', async () => {
  const relay = await startRelay();
  const table = newTable();
  const store = new PostgresStore({ connectionString: relay.url, table });
  try {
    await assert.rejects(store.init());
    await assert.rejects(store.count(Date.now()));
    relay.setUp(true);
    const now = Date.now();
    const id = publicIdOf(newSessionId());
    await store.create(id, record(now));
    assert.deepEqual(await store.get(id, now), record(now));
    assert.equal((await indexesOf('public', table)).size, 4);
  } finally {
    await store.close();
    await relay.close();
  }
});

test('an idle connection killed by the server goes to onBackgroundError, and the store keeps working', async () => {
  const applicationName = `${RUN}_bg`;
  const errors: Error[] = [];
  let reported!: () => void;
  const backgroundErrorSeen = new Promise<void>((resolve) => (reported = resolve));
  const onBackgroundError = (err: Error) => {
    errors.push(err);
    reported();
  };
  const store = new PostgresStore({ connectionString: `${DATABASE_URL}?application_name=${applicationName}`, table: newTable(), onBackgroundError });
  try {
    await store.ping();
    const { rowCount } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    assert.equal(rowCount, 1);
    await backgroundErrorSeen;
    assert.equal(errors.length, 1);
    await store.ping();
  } finally {
    await store.close();
  }
});

test('close leaves a pool the caller owns open', async () => {
  const pool = new pg.Pool({ connectionString: DATABASE_URL });
  try {
    const store = new PostgresStore({ pool, table: newTable() });
    await store.init();
    await store.close();
    assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
    assert.equal(pool.ended, false);
  } finally {
    await pool.end();
  }
});

test('the table holds public ids only, never the raw session id', async () => {
  const table = newTable();
  const store = new PostgresStore({ connectionString: DATABASE_URL, table });
  try {
    const rawId = newSessionId();
    await store.create(publicIdOf(rawId), record(Date.now()));
    const { rows } = await admin.query(`SELECT id, t::text AS whole_row FROM "${table}" t`);
    assert.deepEqual(rows.map((row) => row.id), [publicIdOf(rawId)]);
    assert.ok(!rows[0].whole_row.includes(rawId));
  } finally {
    await store.close();
  }
});

test('list pages, purge and eviction are index scans, not scans of the whole table (12,000 rows)', async () => {
  const table = newTable();
  const plans: string[] = [];
  // auto_explain at NOTICE level sends the plan of each statement the store runs back to this client.
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  pool.on('connect', (client) => {
    client.on('notice', (notice) => plans.push(notice.message ?? ''));
    void client.query("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_level = notice");
  });
  const store = new PostgresStore({ pool, table });
  try {
    await store.init();
    const now = Date.now();
    await admin.query(
      `INSERT INTO "${table}" SELECT 'id' || g, '{}', '[]', $1::bigint, $1::bigint + g, $1::bigint + 60000 + g, 2 FROM generate_series(1, 12000) g`,
      [now],
    );
    await admin.query(`ANALYZE "${table}"`);
    for (const [sort, index] of [['expiry', `${table}_expiry`], ['activity', `${table}_activity`]] as const) {
      const first = await store.list({ limit: 50, sort, now });
      await store.list({ limit: 50, sort, now, cursor: first.nextCursor! });
      const listPlans = plans.splice(0).filter((plan) => plan.includes('key_names'));
      assert.equal(listPlans.length, 2);
      for (const plan of listPlans) {
        assert.ok(plan.includes(`Index Scan`) && plan.includes(index), plan);
        assert.ok(!plan.includes('Seq Scan'), plan);
      }
    }
    assert.equal((await store.purgeExpired(now + 60_100, 1000)).length, 100);
    assert.equal((await store.evictBeyond(0, Date.now(), 10)).length, 10);
    const deletePlans = plans.splice(0).filter((plan) => plan.includes('DELETE'));
    assert.equal(deletePlans.length, 2);
    for (const plan of deletePlans) {
      // A bitmap scan of the expiry index is fine here: it reads only the rows of one batch.
      assert.match(plan, new RegExp(`(using|on) ${table}_expiry `), plan);
    }
    const [purgePlan, evictionPlan] = deletePlans;
    assert.ok(!purgePlan!.includes('Seq Scan'), purgePlan);
    // Eviction must count the live sessions to know the excess (as count() does); it selects its victims by the index.
    const scans = evictionPlan!.split('\n').filter((line) => line.includes('Seq Scan'));
    assert.ok(scans.length <= 1 && evictionPlan!.includes('Aggregate'), evictionPlan);
  } finally {
    await store.close();
    await pool.end();
  }
});

runStoreConformance('postgres', async () => {
  const table = newTable();
  const store = new PostgresStore({ connectionString: DATABASE_URL, table });
  return {
    store,
    openPeer: async () => new PostgresStore({ connectionString: DATABASE_URL, table }),
    cleanup: async () => {
      await store.close();
      await admin.query(`DROP TABLE IF EXISTS "${table}", "${table}_admin"`);
    },
  };
});

test('a table of the release before owners gets its owner and device columns on the first start, and keeps its sessions', async () => {
  const table = `sktest_${randomBytes(4).toString('hex')}_old`;
  await admin.query(`CREATE TABLE "${table}" (
    id text COLLATE "C" PRIMARY KEY, data json NOT NULL, key_names json NOT NULL,
    created_at_ms bigint NOT NULL, last_seen_at_ms bigint NOT NULL, expires_at_ms bigint NOT NULL, size_bytes integer NOT NULL)`);
  const now = Date.now();
  const old = publicIdOf(newSessionId());
  await admin.query(`INSERT INTO "${table}" VALUES ($1, '{"cart":1}', '["cart"]', $2, $2, $3, 10)`, [old, now, now + 60_000]);
  const stores = [new PostgresStore({ connectionString: DATABASE_URL, table }), new PostgresStore({ connectionString: DATABASE_URL, table })];
  try {
    await Promise.all(stores.map((store) => store.init()));
    const [store] = stores as [PostgresStore, PostgresStore];
    assert.deepEqual((await store.get(old, now))?.data, { cart: 1 }, 'the old session is still there');
    const owned = publicIdOf(newSessionId());
    await store.create(owned, { data: {}, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000, owner: 'ada' });
    assert.deepEqual((await store.list({ owner: 'ada', sort: 'activity', limit: 10, now })).sessions.map((s) => s.id), [owned]);
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = $1::regclass AND attname IN ($2, $3)', [`"${table}"`, 'owner', 'device']);
    assert.equal(rows[0].n, 2);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
    await admin.query(`DROP TABLE IF EXISTS "${table}"`);
  }
});
