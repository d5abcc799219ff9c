/**
 * The event log on PostgreSQL: two tables beside the sessions table,
 * `<table>_events_log` (one row per event, `id` in append order) and
 * `<table>_events_tally` (counts per minute and event). The underscore inside
 * their suffix keeps them apart from namespace tables (`<table>_<letters and
 * digits>`). Positions are log ids as decimal strings.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { InvalidCursorError } from '../cursor.ts';
import type { LifecycleEvent } from '../events.ts';
import { namespacedTableName } from '../stores/postgres-names.ts';
import { createUnderSchemaLock } from '../stores/postgres-schema.ts';
import { assertDated, type EventCounts, type EventLog, type EventLogPage, type EventLogSize, MINUTE_MS, TALLY_KEEP_MS } from './event-log.ts';

/** What `new PostgresEventLog(…)` takes. */
export interface PostgresEventLogOptions {
  /** The store's pool: shared, so the log never ends it. */
  pool: pg.Pool;
  /** Schema of the sessions table, when it is not on the search path's first. */
  schema?: string;
  /** Name of the sessions table (without schema): the log's tables are named after it. */
  table: string;
  /** Events older than this (ms) are never returned. */
  retentionMs: number;
}

/** Names of the log's tables and index for a sessions table, each within PostgreSQL's 63 bytes. */
export function eventLogTableNames(table: string): { log: string; tally: string; atIndex: string } {
  return {
    log: namespacedTableName(table, 'events_log'),
    tally: namespacedTableName(table, 'events_tally'),
    atIndex: namespacedTableName(table, 'events_log_at'),
  };
}

const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const POSITION_PATTERN = /^\d{1,19}$/;
const MAX_BIGINT = 2n ** 63n - 1n;
/** Rows one trim statement deletes at most: a trim of a large backlog never holds one huge transaction. */
const TRIM_BATCH = 10_000;

/** A shared, bounded log of lifecycle events in PostgreSQL tables. Its methods keep the EventLog contract. */
export class PostgresEventLog implements EventLog {
  private readonly pool: pg.Pool;
  private readonly schema: string | undefined;
  private readonly retentionMs: number;
  private readonly logTable: string;
  private readonly tallyTable: string;
  private readonly atIndex: string;
  /** Both names as `regclass` text, for the size functions. */
  private readonly relations: [string, string];
  /** The sessions table the log belongs to. */
  private readonly table: string;
  /** Appends take turns on this lock (see `append`). */
  private readonly appendLockKey: string;
  /** Start of the names of the log's prepared statements, unique to this table. */
  private readonly statementPrefix: string;
  private ready: Promise<void> | undefined;

  constructor(options: PostgresEventLogOptions) {
    const { schema, table } = options;
    if (!IDENTIFIER_PATTERN.test(table) || (schema !== undefined && !IDENTIFIER_PATTERN.test(schema))) {
      throw new Error(`PostgresEventLog: ${JSON.stringify(schema ? `${schema}.${table}` : table)} is not a lower-case identifier (letters, digits, _)`);
    }
    this.pool = options.pool;
    this.schema = schema;
    this.retentionMs = options.retentionMs;
    const names = eventLogTableNames(table);
    const qualify = (name: string) => (schema ? `"${schema}"."${name}"` : `"${name}"`);
    this.logTable = qualify(names.log);
    this.tallyTable = qualify(names.tally);
    this.atIndex = names.atIndex;
    this.relations = [this.logTable, this.tallyTable];
    this.table = table;
    const own = digest(`sessionkeeper:events:${schema ?? ''}.${table}`);
    this.appendLockKey = own.readBigInt64BE(0).toString();
    this.statementPrefix = `sessionkeeper_${own.toString('hex').slice(0, 16)}_events_`;
  }

  /** Creates both tables once; a failed attempt is retried by the next call, so a log started while PostgreSQL was down works once it is up. */
  init(): Promise<void> {
    this.ready ??= this.createTables().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /**
   * One statement: the rows and their tallies commit together or not at all. It first takes a transaction-level
   * advisory lock, so appends commit one after the other and the ids they draw rise in commit order: a follower
   * reading `id > position` can never have passed over a row that was still uncommitted with a lower id.
   * Without it, two appends could draw ids 5 and 6, commit 6 first, and a read between the commits would move
   * the follower past 5 for good. The lock is taken in a CTE that the SELECT joins, so it is held before the
   * first id is drawn, and released by the statement's commit.
   */
  async append(events: readonly LifecycleEvent[]): Promise<void> {
    if (events.length === 0) return;
    assertDated(events);
    const times = events.map(({ at }) => Date.parse(at));
    await this.prepared(
      'append',
      `WITH turn AS MATERIALIZED (SELECT pg_advisory_xact_lock($4::bigint)),
       inserted AS (
         INSERT INTO ${this.logTable} (at_ms, event, entry)
         SELECT batch.at_ms, batch.event, batch.entry
         FROM turn CROSS JOIN unnest($1::bigint[], $2::text[], $3::json[]) WITH ORDINALITY AS batch (at_ms, event, entry, place)
         ORDER BY batch.place
         RETURNING at_ms, event
       )
       INSERT INTO ${this.tallyTable} AS tally (minute, event, n)
       SELECT at_ms / ${MINUTE_MS}, event, count(*) FROM inserted GROUP BY 1, 2
       ON CONFLICT (minute, event) DO UPDATE SET n = tally.n + excluded.n`,
      [times, events.map(({ event }) => event), events.map((event) => JSON.stringify(event)), this.appendLockKey],
    );
  }

  /** Page and position from one statement, so one snapshot: what follows the position was not in it. */
  async latest(limit: number): Promise<EventLogPage> {
    const { rows } = await this.prepared(
      'latest',
      `SELECT coalesce((SELECT max(id) FROM ${this.logTable}), 0)::text AS end_id,
         coalesce((SELECT json_agg(entry ORDER BY id DESC)
           FROM (SELECT id, entry FROM ${this.logTable} WHERE at_ms >= $1 ORDER BY id DESC LIMIT $2) AS page), '[]') AS events`,
      [Date.now() - this.retentionMs, limit],
    );
    return { events: rows[0].events, position: rows[0].end_id };
  }

  /**
   * Skips rows past retention in the query, so a page is short only when nothing more is there; such a page
   * moves the position to the log's end in the same snapshot, past the rows it skipped (ids rise in commit
   * order, so nothing can commit later below that end).
   */
  async readAfter(position: string | undefined, limit: number): Promise<EventLogPage> {
    if (position === undefined) return { events: [], position: (await this.latest(0)).position };
    if (!POSITION_PATTERN.test(position) || BigInt(position) > MAX_BIGINT) throw new InvalidCursorError();
    const { rows } = await this.prepared(
      'readAfter',
      `WITH page AS (SELECT id, entry FROM ${this.logTable} WHERE id > $1 AND at_ms >= $2 ORDER BY id LIMIT $3)
       SELECT coalesce(json_agg(entry ORDER BY id), '[]') AS events, count(*)::int AS read, max(id)::text AS last_id,
         (SELECT coalesce(max(id), 0) FROM ${this.logTable})::text AS end_id
       FROM page`,
      [position, Date.now() - this.retentionMs, limit],
    );
    const { events, read, last_id: lastId, end_id: endId } = rows[0];
    if (read === limit) return { events, position: lastId };
    // Never back: a position past the end (a table emptied and made anew) waits for ids to pass it.
    return { events, position: BigInt(endId) > BigInt(position) ? endId : position };
  }

  async countSince(sinceMs: number): Promise<EventCounts> {
    const { rows } = await this.query<{ event: keyof EventCounts; n: string }>(
      `SELECT event, sum(n)::text AS n FROM ${this.tallyTable} WHERE minute >= $1 GROUP BY event`,
      [Math.ceil(sinceMs / MINUTE_MS)],
    );
    return Object.fromEntries(rows.map(({ event, n }) => [event, Number(n)]));
  }

  /** Deletes in batches, each its own statement; tallies go once they are older than both the retention and the counters' hour. */
  async trim(beforeMs: number, nowMs: number): Promise<void> {
    for (;;) {
      const { rowCount } = await this.query(
        `DELETE FROM ${this.logTable} WHERE id = ANY(ARRAY(SELECT id FROM ${this.logTable} WHERE at_ms < $1 LIMIT ${TRIM_BATCH}))`,
        [beforeMs],
      );
      if ((rowCount ?? 0) < TRIM_BATCH) break;
    }
    const firstKeptMinute = Math.floor((Math.min(beforeMs, nowMs - TALLY_KEEP_MS) - MINUTE_MS) / MINUTE_MS);
    await this.query(`DELETE FROM ${this.tallyTable} WHERE minute < $1`, [firstKeptMinute]);
  }

  async size(): Promise<EventLogSize> {
    const { rows } = await this.query(
      `SELECT (SELECT count(*) FROM ${this.logTable}) AS events,
         pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass) AS bytes`,
      this.relations,
    );
    return { events: Number(rows[0].events), bytes: Number(rows[0].bytes) };
  }

  /** Under the sessions table's schema lock (see postgres-schema.ts), so never at the same time as the store's own. */
  private async createTables(): Promise<void> {
    await createUnderSchemaLock(this.pool, { schema: this.schema, table: this.table }, [
      // json, not jsonb: an event comes back exactly as written.
      `CREATE TABLE IF NOT EXISTS ${this.logTable} (
        id bigserial PRIMARY KEY,
        at_ms bigint NOT NULL,
        event text NOT NULL,
        entry json NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS "${this.atIndex}" ON ${this.logTable} (at_ms)`,
      `CREATE TABLE IF NOT EXISTS ${this.tallyTable} (
        minute bigint,
        event text,
        n bigint NOT NULL,
        PRIMARY KEY (minute, event)
      )`,
    ]);
  }

  private async query<Row extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[]): Promise<pg.QueryResult<Row>> {
    await this.init();
    return this.pool.query<Row>(sql, values);
  }

  /** The statements every process runs all the time (appends, followers' reads), prepared once per connection. */
  private async prepared(name: string, sql: string, values: unknown[]): Promise<pg.QueryResult> {
    await this.init();
    return this.pool.query({ name: `${this.statementPrefix}${name}`, text: sql, values });
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
