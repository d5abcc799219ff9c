/**
 * Names of the tables the PostgreSQL store keeps beside its own (a namespace's,
 * the event log's), within PostgreSQL's identifier limit: a longer name would
 * be truncated silently, and two truncated names could be one table.
 */
import { createHash } from 'node:crypto';

/** PostgreSQL's identifier limit, in bytes (our identifiers are ASCII). */
export const MAX_IDENTIFIER_LENGTH = 63;

/** `<table>_<name>`, or a shortened table name with a digest when that would pass PostgreSQL's 63 bytes. */
export function namespacedTableName(table: string, name: string): string {
  const full = `${table}_${name}`;
  if (full.length <= MAX_IDENTIFIER_LENGTH) return full;
  const digest = createHash('sha256').update(table).digest('hex').slice(0, 8);
  return `${table.slice(0, MAX_IDENTIFIER_LENGTH - name.length - digest.length - 2)}_${digest}_${name}`;
}
