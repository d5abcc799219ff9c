/**
 * Creating the PostgreSQL store's tables, and its event log's, once and safely
 * from several processes: `CREATE … IF NOT EXISTS` statements can still collide
 * on pg_type when two processes run them at once, so they run in one
 * transaction holding an advisory lock that is a constant per sessions table.
 * The store and its event log take the same lock, so neither creates the
 * schema while the other does.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';

/** Where a sessions table lives: its name and, when it is not on the search path's first schema, its schema. */
export interface TableName {
  schema: string | undefined;
  table: string;
}

/** A digest of the sessions table's qualified name: the source of every name and key derived per table. */
export function tableDigest({ schema, table }: TableName): Buffer {
  return createHash('sha256').update(`sessionkeeper:${schema ?? ''}.${table}`).digest();
}

/** The advisory lock key of a sessions table's schema: only processes creating the same tables wait for each other. */
export function schemaLockKey(name: TableName): string {
  return tableDigest(name).readBigInt64BE(0).toString();
}

/** Runs `statements` in one transaction holding the table's schema lock, after creating its schema when it has one. */
export async function createUnderSchemaLock(pool: pg.Pool, name: TableName, statements: string[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [schemaLockKey(name)]);
    if (name.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${name.schema}"`);
    for (const statement of statements) await client.query(statement);
    await client.query('COMMIT');
    client.release();
  } catch (err) {
    // Discarding the connection rolls the transaction back.
    client.release(err as Error);
    throw err;
  }
}
