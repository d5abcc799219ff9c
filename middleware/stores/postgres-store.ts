/**
 * The PostgreSQL store: one row per session in a table it creates itself, keyed
 * by public id. Expiry, listing and purging are index range scans on
 * (expires_at_ms, id) and (last_seen_at_ms, id); one owner's sessions, on the
 * partial index (owner, last_seen_at_ms, id) of the rows that have an owner.
 */
import pg from 'pg';
import { PG_TABLE_PATTERN } from '../config.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { PostgresEventLog } from '../event-log/postgres-event-log.ts';
import {
  assertNamespaceName, dataJsonOf,
  type DeviceFacts, type RemovedSession, type SessionData, type CounterRule, type CounterState, type Rolling, type ListOptions, type SessionPage, type SessionRecord, type SessionStore, type SessionSummary,
} from '../store.ts';
import { MAX_IDENTIFIER_LENGTH, namespacedTableName } from './postgres-names.ts';
import { createUnderSchemaLock, schemaLockKey, tableDigest } from './postgres-schema.ts';

/** What `new PostgresStore(…)` takes: exactly one of `pool` or `connectionString`. */
export interface PostgresStoreOptions {
  /** A pool the caller owns: the store uses it and never ends it. */
  pool?: pg.Pool;
  /** A connection URL: the store opens its own pool and ends it in `close()`. */
  connectionString?: string;
  /** Table, optionally `schema.table`: lower-case identifiers only. Default `sessionkeeper_sessions`. */
  table?: string;
  /** Called with errors of idle clients of the store's own pool (a database restart, say); ignored by default. */
  onBackgroundError?: (err: Error) => void;
  /** Where the data lives, for operators, when `pool` is given (never a password). */
  location?: string;
}

const DEFAULT_TABLE = 'sessionkeeper_sessions';

/**
 * Short timeouts so a database that is down or restarting fails requests quickly instead of hanging them.
 * Writes that store sessions commit without waiting for the WAL to reach the disk (`synchronous_commit=off`):
 * a database crash can lose the last fraction of a second of session changes, never half of one (each write
 * stays atomic), which is still more durable than Redis' default; requests no longer wait on the disk.
 * Writes that remove live sessions wait for it all the same (see `durably`): a logout survives a crash, and so does a session moved in from the previous store.
 */
const OWN_POOL_SETTINGS = {
  max: 10,
  idleTimeoutMillis: 30_000,
  connectionTimeoutMillis: 2_000,
  statement_timeout: 3_000,
  query_timeout: 4_000,
  options: '-c synchronous_commit=off',
} satisfies pg.PoolConfig;

const SUMMARY_COLUMNS = 'id, created_at_ms, last_seen_at_ms, expires_at_ms, size_bytes, key_names, owner, device';
const RECORD_COLUMNS = 'data, created_at_ms, last_seen_at_ms, expires_at_ms, owner, device';
const INSERT_COLUMNS = '(id, data, key_names, created_at_ms, last_seen_at_ms, expires_at_ms, size_bytes, owner, device)';
const INSERT_VALUES = 'VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)';

interface SummaryRow {
  id: string;
  created_at_ms: string;
  last_seen_at_ms: string;
  expires_at_ms: string;
  size_bytes: number;
  key_names: string[];
  owner: string | null;
  device: DeviceFacts | null;
}

interface RecordRow {
  data: SessionData;
  created_at_ms: string;
  last_seen_at_ms: string;
  expires_at_ms: string;
  owner: string | null;
  device: DeviceFacts | null;
}

/** Sessions in a PostgreSQL table, shared by every process that uses the same table. Its methods keep the SessionStore contract. */
export class PostgresStore implements SessionStore {
  readonly kind = 'postgres';
  readonly location: string;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly table: string;
  private readonly tableName: string;
  private readonly schemaName: string | undefined;
  /** Start of the names of this table's prepared statements (a digest of the table: within PostgreSQL's 63 bytes). */
  private readonly statementPrefix: string;
  private ready: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions) {
    const table = options.table ?? DEFAULT_TABLE;
    if (!PG_TABLE_PATTERN.test(table)) {
      throw new Error(
        `PostgresStore: table ${JSON.stringify(table)} is not valid: expected a lower-case identifier (letters, digits, _; at most 63), optionally schema.table`,
      );
    }
    if (!options.pool === !options.connectionString) {
      throw new Error('PostgresStore: pass exactly one of pool (yours to end) or connectionString (the store opens and ends its pool)');
    }
    const parts = table.split('.');
    this.tableName = parts.pop()!;
    this.schemaName = parts[0];
    this.statementPrefix = `sessionkeeper_${this.digest().toString('hex').slice(0, 16)}_`;
    this.table = [this.schemaName, this.tableName].filter(Boolean).map((part) => `"${part}"`).join('.');
    this.ownsPool = !options.pool;
    this.pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, ...OWN_POOL_SETTINGS });
    if (this.ownsPool) {
      const onBackgroundError = options.onBackgroundError ?? (() => {});
      this.pool.on('error', onBackgroundError);
      // The pool listens for errors of idle clients only (reported above): a connection reset between two
      // statements of a checked-out client (a call that timed out and still runs, say) would otherwise crash
      // the process. Such an error reaches the caller through the statement that fails, so it is not reported twice.
      this.pool.on('connect', (client) => client.on('error', () => {}));
    }
    this.location = options.pool
      ? options.location ?? `postgres (shared pool) table ${table}`
      : `${describeServer(options.connectionString!)} table ${table}`;
  }

  /** Creates the table and indexes once; a failed attempt is retried by the next call. */
  init(): Promise<void> {
    this.ready ??= this.createSchema().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /**
   * One statement either way. Rolling, the update matches only a session that is due, and the same
   * statement reads the row the update left alone: a read that does not roll writes nothing (no new row
   * version, no transaction id, no commit to wait for).
   */
  async get(id: string, now: number, roll?: Rolling): Promise<SessionRecord | undefined> {
    const { rows } = roll
      ? await this.prepared(
          'getAndRollIfDue',
          `WITH rolled AS (
             UPDATE ${this.table} SET last_seen_at_ms = $2,
               expires_at_ms = CASE WHEN $4::bigint > 0 THEN LEAST($2 + $3::bigint, created_at_ms + $4::bigint) ELSE $2 + $3::bigint END
             WHERE id = $1 AND expires_at_ms > $2 AND last_seen_at_ms <= $2 - $5::bigint
             RETURNING ${RECORD_COLUMNS})
           SELECT * FROM rolled
           UNION ALL
           SELECT ${RECORD_COLUMNS} FROM ${this.table}
           WHERE id = $1 AND expires_at_ms > $2 AND NOT EXISTS (SELECT 1 FROM rolled)`,
          [id, now, roll.idleTtlMs, roll.absoluteTtlMs, roll.touchAfterMs ?? 0],
        )
      : await this.prepared(
          'get',
          `SELECT ${RECORD_COLUMNS} FROM ${this.table} WHERE id = $1 AND expires_at_ms > $2`,
          [id, now],
        );
    const row = rows[0] as RecordRow | undefined;
    if (!row) return undefined;
    const record: SessionRecord = { data: row.data, createdAt: Number(row.created_at_ms), lastSeenAt: Number(row.last_seen_at_ms), expiresAt: Number(row.expires_at_ms) };
    if (row.owner !== null) record.owner = row.owner;
    if (row.device !== null) record.device = row.device;
    return record;
  }

  /**
   * One upsert. With a cap on the owner's sessions, a transaction instead: it takes a lock per owner (so
   * processes creating sessions for one owner take turns and each counts what the one before left), removes
   * the owner's least recently used live sessions beyond `maxPerOwner - 1`, inserts, and commits synchronously,
   * since it removed live sessions.
   */
  async create(id: string, record: SessionRecord, maxPerOwner = 0): Promise<RemovedSession[]> {
    const upsert = `INSERT INTO ${this.table} ${INSERT_COLUMNS} ${INSERT_VALUES}
       ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, key_names = EXCLUDED.key_names, created_at_ms = EXCLUDED.created_at_ms,
         last_seen_at_ms = EXCLUDED.last_seen_at_ms, expires_at_ms = EXCLUDED.expires_at_ms, size_bytes = EXCLUDED.size_bytes,
         owner = EXCLUDED.owner, device = EXCLUDED.device`;
    const owner = record.owner;
    if (owner === undefined || maxPerOwner <= 0) {
      await this.prepared('create', upsert, rowValues(id, record));
      return [];
    }
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2::bigint))', [owner, this.ownerLockSeed()]);
      // Newest first: whatever lies past the first maxPerOwner - 1 is the least recently used.
      const { rows } = await client.query<{ id: string }>(
        `DELETE FROM ${this.table} WHERE id = ANY(ARRAY(
           SELECT id FROM ${this.table} WHERE owner = $1 AND expires_at_ms > $2 AND id <> $4
           ORDER BY last_seen_at_ms DESC, id DESC OFFSET $3)) RETURNING id`,
        [owner, record.lastSeenAt, maxPerOwner - 1, id],
      );
      await client.query(upsert, rowValues(id, record));
      return rows.map((row) => ({ id: row.id, owner }));
    });
  }

  /** Committed synchronously, unlike a session write: a moved session is removed from the previous store next. */
  async insert(id: string, record: SessionRecord): Promise<boolean> {
    const { rowCount } = await this.durably(`INSERT INTO ${this.table} ${INSERT_COLUMNS} ${INSERT_VALUES} ON CONFLICT (id) DO NOTHING`, rowValues(id, record));
    return rowCount === 1;
  }

  /** The owner and device stay as created: only the data and times are written. */
  async update(id: string, record: SessionRecord, now: number): Promise<boolean> {
    const { rowCount } = await this.prepared(
      'update',
      `UPDATE ${this.table} SET data = $2, key_names = $3, created_at_ms = $4, last_seen_at_ms = $5, expires_at_ms = $6, size_bytes = $7
       WHERE id = $1 AND expires_at_ms > $8`,
      [...rowValues(id, record).slice(0, 7), now],
    );
    return rowCount === 1;
  }

  async destroy(id: string): Promise<boolean> {
    const { rowCount } = await this.durably(`DELETE FROM ${this.table} WHERE id = $1`, [id]);
    return rowCount === 1;
  }

  /** Keyset pagination on the sort column and id: one index range scan per page, limit + 1 rows to see whether more follow. */
  /** With an owner, the scan is of the owner index: (owner, last_seen_at_ms, id), over that owner's rows only. */
  async list({ limit, cursor, sort, now, owner }: ListOptions): Promise<SessionPage> {
    const [column, direction, comparison] = sort === 'expiry' ? ['expires_at_ms', 'ASC', '>'] : ['last_seen_at_ms', 'DESC', '<'];
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const values: unknown[] = [now, limit + 1];
    const conditions = ['expires_at_ms > $1'];
    if (after) conditions.push(`(${column}, id) ${comparison} ($${values.push(after.score)}, $${values.push(after.id)})`);
    if (owner !== undefined) conditions.push(`owner = $${values.push(owner)}`);
    const { rows } = await this.query<SummaryRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM ${this.table}
       WHERE ${conditions.join(' AND ')}
       ORDER BY ${column} ${direction}, id ${direction} LIMIT $2`,
      values,
    );
    const sessions = rows.slice(0, limit).map(toSummary);
    const last = sessions.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor({ score: sort === 'expiry' ? last.expiresAt : last.lastSeenAt, id: last.id }) : null;
    return { sessions, nextCursor };
  }

  async count(now: number): Promise<number> {
    const { rows } = await this.query(`SELECT count(*) AS live FROM ${this.table} WHERE expires_at_ms > $1`, [now]);
    return Number(rows[0].live);
  }

  /**
   * SKIP LOCKED lets concurrent sweepers take disjoint batches, so each id is returned by one caller only.
   * Commits like a session write, without waiting for the disk: the sessions are expired, so one that a
   * database crash brings back is never served, only swept again.
   */
  async purgeExpired(now: number, batchSize: number): Promise<RemovedSession[]> {
    const selection = `WHERE expires_at_ms <= $1 ORDER BY expires_at_ms, id LIMIT $2`;
    const { rows } = await this.query<RemovedRow>(this.deleteReturningIds(selection), [now, batchSize]);
    return rows.map(removedOf);
  }

  /** The contract passes no `now`, so live means unexpired by this process's clock, the one callers take `now` from. */
  async evictBeyond(maxCount: number, now: number, batchSize: number): Promise<RemovedSession[]> {
    const excess = `(SELECT count(*) FROM ${this.table} WHERE expires_at_ms > $1) - $3`;
    const selection = `WHERE expires_at_ms > $1 ORDER BY expires_at_ms, id LIMIT GREATEST(0, LEAST($2, ${excess}))`;
    // Evictors take turns (an advisory lock per table), so each counts what the one before left.
    const { rows } = await this.durably<RemovedRow>(this.deleteReturningIds(selection), [now, batchSize, maxCount], { lockKey: this.evictionLockKey() });
    return rows.map(removedOf);
  }

  /** One statement over the owner index, committed synchronously: an ending of live sessions survives a crash. */
  async endOwnerSessions(owner: string, now: number, except: readonly string[]): Promise<string[]> {
    const { rows } = await this.durably<{ id: string }>(
      `DELETE FROM ${this.table} WHERE owner = $1 AND expires_at_ms > $2 AND NOT (id = ANY($3::text[])) RETURNING id`,
      [owner, now, except],
    );
    return rows.map((row) => row.id);
  }

  async destroyAll(): Promise<number> {
    const { rowCount } = await this.durably(`DELETE FROM ${this.table}`, []);
    return rowCount ?? 0;
  }

  /** One upsert: a lapsed counter restarts, a live one counts on; the hit that reaches the limit holds it. */
  async increment(id: string, now: number, rule: CounterRule): Promise<CounterState> {
    const { rows } = await this.prepared(
      'increment',
      `INSERT INTO ${this.table} AS counter (id, data, key_names, created_at_ms, last_seen_at_ms, expires_at_ms, size_bytes)
       VALUES ($1, '{"count":1}', '["count"]', $2, $2, CASE WHEN $4::int <= 1 THEN $2 + GREATEST($3::bigint, $5::bigint) ELSE $2 + $3::bigint END, 11)
       ON CONFLICT (id) DO UPDATE SET
         data = json_build_object('count', CASE WHEN counter.expires_at_ms <= $2 THEN 1 ELSE (counter.data->>'count')::int + 1 END),
         created_at_ms = CASE WHEN counter.expires_at_ms <= $2 THEN $2 ELSE counter.created_at_ms END,
         last_seen_at_ms = $2,
         expires_at_ms = CASE
           WHEN counter.expires_at_ms <= $2 THEN $2 + CASE WHEN $4::int <= 1 THEN GREATEST($3::bigint, $5::bigint) ELSE $3::bigint END
           WHEN (counter.data->>'count')::int + 1 = $4::int THEN GREATEST(counter.expires_at_ms, $2 + $5::bigint)
           ELSE counter.expires_at_ms END
       RETURNING (data->>'count')::int AS count, expires_at_ms`,
      [id, now, rule.windowMs, rule.limit, rule.holdMs],
    );
    return { count: Number(rows[0].count), expiresAt: Number(rows[0].expires_at_ms) };
  }

  /** A table of its own beside this one (`<table>_<name>`, shortened with a digest past 63 bytes), on the same pool. */
  withNamespace(name: string): PostgresStore {
    assertNamespaceName(name);
    const table = namespacedTableName(this.tableName, name);
    const qualified = this.schemaName ? `${this.schemaName}.${table}` : table;
    return new PostgresStore({ pool: this.pool, table: qualified, location: `${this.location}_${name}` });
  }

  /** The event log beside this table (`<table>_events_log` and `<table>_events_tally`), on the same pool. */
  openEventLog(retentionMs: number): PostgresEventLog {
    return new PostgresEventLog({ pool: this.pool, schema: this.schemaName, table: this.tableName, retentionMs });
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  /** Under the table's schema lock (see postgres-schema.ts), shared with the event log's tables. */
  private async createSchema(): Promise<void> {
    await createUnderSchemaLock(this.pool, { schema: this.schemaName, table: this.tableName }, [
      // json, not jsonb: it keeps the data exactly as written, including \u0000 and key order, like the other stores.
      // key_names is kept apart so listing reads neither values nor parses them.
      `CREATE TABLE IF NOT EXISTS ${this.table} (
        id text COLLATE "C" PRIMARY KEY,
        data json NOT NULL,
        key_names json NOT NULL,
        created_at_ms bigint NOT NULL,
        last_seen_at_ms bigint NOT NULL,
        expires_at_ms bigint NOT NULL,
        size_bytes integer NOT NULL,
        owner text COLLATE "C",
        device json
      )`,
      // A table created by a release without owners gets their columns (no rewrite: both are null by default).
      // Checked first: ALTER TABLE takes the table's strongest lock even when the column exists, and this runs
      // at every start of every process.
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '${this.table.replaceAll("'", "''")}'::regclass AND attname = 'owner' AND NOT attisdropped) THEN
           ALTER TABLE ${this.table} ADD COLUMN owner text COLLATE "C", ADD COLUMN device json;
         END IF;
       END $$`,
      `CREATE INDEX IF NOT EXISTS "${this.indexName('expiry')}" ON ${this.table} (expires_at_ms, id)`,
      `CREATE INDEX IF NOT EXISTS "${this.indexName('activity')}" ON ${this.table} (last_seen_at_ms, id)`,
      // Partial: a session without an owner costs this index nothing.
      `CREATE INDEX IF NOT EXISTS "${this.indexName('owner')}" ON ${this.table} (owner, last_seen_at_ms, id) WHERE owner IS NOT NULL`,
    ]);
  }

  private async query<Row extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<pg.QueryResult<Row>> {
    await this.init();
    return this.pool.query<Row>(sql, values);
  }

  /**
   * A statement of the request path, prepared once per connection under a name only this table uses:
   * later runs send just the values, and PostgreSQL neither parses nor plans it again.
   */
  private async prepared(name: string, sql: string, values: unknown[]): Promise<pg.QueryResult> {
    await this.init();
    return this.pool.query({ name: `${this.statementPrefix}${name}`, text: sql, values });
  }

  /**
   * A delete of the rows `selection` picks, returning their ids. `= ANY(ARRAY(…))` runs the locking subquery once,
   * then deletes by primary key: no semi-join over the whole table.
   */
  private deleteReturningIds(selection: string): string {
    return `DELETE FROM ${this.table} WHERE id = ANY(ARRAY(SELECT id FROM ${this.table} ${selection} FOR UPDATE SKIP LOCKED)) RETURNING id, owner`;
  }

  /**
   * A statement committed synchronously whatever the pool's setting: one that removes live sessions, so
   * that no destroyed or evicted session comes back after a database crash, or one that inserts a moved
   * session, which must outlive a crash once its copy in the previous store is gone. Three more round
   * trips, on calls that are rare next to reads and writes.
   */
  private async durably<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    values: unknown[],
    { lockKey }: { lockKey?: string } = {},
  ): Promise<pg.QueryResult<Row>> {
    return this.transaction(async (client) => {
      if (lockKey) await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey]);
      return client.query<Row>(sql, values);
    });
  }

  /** Runs `work` in a transaction committed synchronously (see `durably`); any error rolls it back. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.init();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL synchronous_commit TO on');
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      // Discarding the connection rolls the transaction back.
      client.release(err as Error);
      throw err;
    }
  }

  /** The seed of the per-owner locks of a capped creation: another constant per table. */
  private ownerLockSeed(): string {
    return (BigInt(this.lockKey()) ^ 2n).toString();
  }

  /** Another constant per table, for evictions: they never wait on schema creation. */
  private evictionLockKey(): string {
    return (BigInt(this.lockKey()) ^ 1n).toString();
  }

  private lockKey(): string {
    return schemaLockKey({ schema: this.schemaName, table: this.tableName });
  }

  /** `<table>_<suffix>`, or a shortened name with a digest when that would pass PostgreSQL's 63-byte limit and be truncated. */
  private indexName(suffix: string): string {
    const name = `${this.tableName}_${suffix}`;
    if (name.length <= MAX_IDENTIFIER_LENGTH) return name;
    return `${this.tableName.slice(0, 40)}_${this.digest().toString('hex').slice(0, 8)}_${suffix}`;
  }

  private digest(): Buffer {
    return tableDigest({ schema: this.schemaName, table: this.tableName });
  }
}

/** The values of INSERT_COLUMNS. The size is that of the JSON sent, as `dataSizeBytes` would compute it, without serialising twice. */
function rowValues(id: string, record: SessionRecord): unknown[] {
  const { data, createdAt, lastSeenAt, expiresAt, owner, device } = record;
  const json = dataJsonOf(record);
  return [id, json, JSON.stringify(Object.keys(data)), createdAt, lastSeenAt, expiresAt, Buffer.byteLength(json, 'utf8'), owner ?? null, device ? JSON.stringify(device) : null];
}

function toSummary(row: SummaryRow): SessionSummary {
  const summary: SessionSummary = {
    id: row.id,
    createdAt: Number(row.created_at_ms),
    lastSeenAt: Number(row.last_seen_at_ms),
    expiresAt: Number(row.expires_at_ms),
    sizeBytes: row.size_bytes,
    keys: row.key_names,
  };
  if (row.owner !== null) summary.owner = row.owner;
  if (row.device !== null) summary.device = row.device;
  return summary;
}

interface RemovedRow {
  id: string;
  owner: string | null;
}

function removedOf({ id, owner }: RemovedRow): RemovedSession {
  return owner === null ? { id } : { id, owner };
}

/** `host:port/database` of a connection URL: never its user or password. */
function describeServer(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'postgres (unparsable URL)';
  }
}
