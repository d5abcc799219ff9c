/**
 * What only the PostgreSQL event log must prove: its tables are created by
 * whichever process needs them first, at once or lazily, including after the
 * database was unreachable; ids follow commit order even when an append
 * commits late; names fit PostgreSQL's limit; trim works in batches. The
 * shared behaviour is the conformance suite's, run at the end.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { InvalidCursorError } from '../../middleware/cursor.ts';
import { type EventLog, MINUTE_MS, TALLY_KEEP_MS } from '../../middleware/event-log/event-log.ts';
import { eventLogTableNames, PostgresEventLog } from '../../middleware/event-log/postgres-event-log.ts';
import type { LifecycleEvent } from '../../middleware/events.ts';
import { namespacedTableName } from '../../middleware/stores/postgres-names.ts';
import { PostgresStore } from '../../middleware/stores/postgres-store.ts';
import { runEventLogConformance, storeEventLogFixture } from '../conformance/event-log-suite.ts';
import { createProxiedNamespace } from '../helpers/proxied-namespace.ts';
import { createNamespace, TEST_DATABASE_URL } from '../helpers/store-fixtures.ts';

const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
after(() => admin.end());

let eventCount = 0;
const event = (atMs = Date.now(), sid = `sid-${++eventCount}`): LifecycleEvent => ({ event: 'session.created', sid, store: 'postgres', at: new Date(atMs).toISOString() });

/** Tables of a schema whose names start with `start`, sorted. */
async function tablesStarting(schema: string, start: string): Promise<string[]> {
  const { rows } = await admin.query('SELECT tablename FROM pg_tables WHERE schemaname = $1 AND starts_with(tablename, $2) ORDER BY 1', [schema, start]);
  return rows.map((row) => row.tablename);
}

/** A store on a fresh table (not initialised: the log needs only its own tables) and its log; all removed after `run`. */
async function withLog(retentionMs: number, run: (log: EventLog, table: string) => Promise<void>): Promise<void> {
  const namespace = await createNamespace('postgres');
  const store = namespace.open();
  try {
    await run(store.openEventLog!(retentionMs), namespace.settings.pgTable!);
  } finally {
    await store.close();
    await namespace.remove();
  }
}

test('logs and their store starting at once on a new schema and table all succeed, and create each table once', async () => {
  const schema = `sktest_${randomBytes(4).toString('hex')}_events`;
  const pools = Array.from({ length: 6 }, () => new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 }));
  try {
    const store = new PostgresStore({ pool: pools[0]!, table: `${schema}.sessions` });
    const logs = pools.map((pool) => new PostgresEventLog({ pool, schema, table: 'sessions', retentionMs: TALLY_KEEP_MS }));
    await Promise.all([store.init(), ...logs.map((log) => log.init())]);
    const names = eventLogTableNames('sessions');
    assert.deepEqual(await tablesStarting(schema, 'sessions'), ['sessions', names.log, names.tally].sort());
    const { rows } = await admin.query('SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, names.atIndex]);
    assert.match(rows[0]?.indexdef ?? '', /\(at_ms\)/);
    await logs[1]!.append([event()]);
    assert.equal((await logs[5]!.latest(5)).events.length, 1);
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

test('an append before any init creates the tables, and works', async () => {
  await withLog(TALLY_KEEP_MS, async (log) => {
    const appended = event();
    await log.append([appended]);
    assert.deepEqual((await log.latest(5)).events, [appended]);
  });
});

test('a log started while PostgreSQL was unreachable creates its tables once it answers', async () => {
  const proxied = await createProxiedNamespace('postgres');
  proxied.proxy.cut();
  const store = proxied.open();
  try {
    const log = store.openEventLog!(TALLY_KEEP_MS);
    await assert.rejects(log.append([event()]));
    await assert.rejects(log.latest(5));
    proxied.proxy.restore();
    const appended = event();
    await log.append([appended]);
    assert.deepEqual((await log.latest(5)).events, [appended]);
  } finally {
    await store.close();
    await proxied.remove();
  }
});

test('an append that commits late never lets a follower skip it: ids rise in commit order', async () => {
  const namespace = await createNamespace('postgres');
  const [slowStore, fastStore] = [namespace.open(), namespace.open()];
  try {
    await Promise.all([slowStore.init(), fastStore.init()]);
    const [slow, fast] = [slowStore.openEventLog!(TALLY_KEEP_MS), fastStore.openEventLog!(TALLY_KEEP_MS)];
    await slow.init();
    // A real delay between drawing an id and committing it: this event's row sleeps in a trigger.
    const { log } = eventLogTableNames(namespace.settings.pgTable!);
    const slowSid = `slow-${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE FUNCTION "${log}_slow"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.entry->>'sid' = '${slowSid}' THEN PERFORM pg_sleep(0.6); END IF; RETURN NEW; END $$`);
    await admin.query(`CREATE TRIGGER slow BEFORE INSERT ON "${log}" FOR EACH ROW EXECUTE FUNCTION "${log}_slow"()`);
    try {
      const start = (await fast.latest(0)).position;
      const slowAppend = slow.append([event(Date.now(), slowSid)]);
      await sleep(150);
      const fastEvent = event();
      const fastAppend = fast.append([fastEvent]);
      await sleep(150);
      // Read while the slow append is still open: whatever is visible must not pass over its id.
      const during = await fast.readAfter(start, 10);
      await Promise.all([slowAppend, fastAppend]);
      const rest = await fast.readAfter(during.position, 10);
      assert.deepEqual([...during.events, ...rest.events].map(({ sid }) => sid), [slowSid, fastEvent.sid]);
    } finally {
      await admin.query(`DROP FUNCTION "${log}_slow"() CASCADE`);
    }
  } finally {
    await Promise.all([slowStore.close(), fastStore.close()]);
    await namespace.remove();
  }
});

test('names fit in 63 bytes, apart from each other and from the namespace table, and a 63-byte table works', async () => {
  const table = `sktest_${randomBytes(4).toString('hex')}_${'x'.repeat(47)}`;
  assert.equal(table.length, 63);
  const names = eventLogTableNames(table);
  const tables = [table, namespacedTableName(table, 'admin'), names.log, names.tally];
  const all = [...tables, names.atIndex];
  for (const name of all) assert.ok(name.length <= 63, name);
  assert.equal(new Set(all).size, all.length, 'no two the same');
  const store = new PostgresStore({ connectionString: TEST_DATABASE_URL, table });
  try {
    await store.init();
    await store.withNamespace('admin').init();
    const log = store.openEventLog!(TALLY_KEEP_MS);
    await log.append([event()]);
    assert.equal((await log.size()).events, 1);
    const { rows } = await admin.query('SELECT relname FROM pg_class WHERE relname = ANY($1)', [all]);
    assert.deepEqual(rows.map((row) => row.relname).sort(), [...all].sort(), 'each created under its own name');
  } finally {
    await store.close();
    await admin.query(`DROP TABLE IF EXISTS ${tables.map((name) => `"${name}"`).join(', ')}`);
  }
});

test('trim deletes a backlog past a batch in batches, and the tallies older than the hour', async () => {
  await withLog(1_000, async (log, table) => {
    const now = Date.now();
    await log.append(Array.from({ length: 25_000 }, (_, i) => event(now - 2 * 60 * MINUTE_MS + (i % 1_000))));
    await log.append([event(now - 30 * MINUTE_MS), event(now)]);
    assert.equal((await log.size()).events, 25_002);
    await log.trim(now - 1_000, now);
    assert.equal((await log.size()).events, 1);
    const { rows } = await admin.query(`SELECT minute::text FROM "${eventLogTableNames(table).tally}" ORDER BY minute`);
    assert.deepEqual(rows.map((row) => Number(row.minute)), [Math.floor((now - 30 * MINUTE_MS) / MINUTE_MS), Math.floor(now / MINUTE_MS)]);
  });
});

test('removing the test namespace drops the event tables too', async () => {
  const namespace = await createNamespace('postgres');
  const store = namespace.open();
  const table = namespace.settings.pgTable!;
  try {
    await store.init();
    await store.openEventLog!(TALLY_KEEP_MS).append([event()]);
  } finally {
    await store.close();
  }
  const { log, tally } = eventLogTableNames(table);
  assert.deepEqual(await tablesStarting('public', table), [table, log, tally].sort());
  await namespace.remove();
  assert.deepEqual(await tablesStarting('public', table), []);
});

test('positions are decimal ids; one past the bigint range, or another backend\'s, is refused', async () => {
  await withLog(TALLY_KEEP_MS, async (log) => {
    assert.deepEqual(await log.latest(5), { events: [], position: '0' });
    await log.append([event()]);
    assert.match((await log.latest(0)).position, /^[1-9]\d*$/);
    assert.equal((await log.readAfter('0', 5)).position, (await log.latest(0)).position);
    assert.deepEqual(await log.readAfter('9223372036854775807', 5), { events: [], position: '9223372036854775807' });
    for (const position of ['9223372036854775808', '1-0']) await assert.rejects(log.readAfter(position, 5), InvalidCursorError);
  });
});

runEventLogConformance('postgres', storeEventLogFixture('postgres'));
