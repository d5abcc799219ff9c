import type { ParsedUrlQuery } from 'node:querystring';
import { decodeCursor } from '../middleware/cursor.ts';
import { MAX_PAGE_SIZE, type ListSort } from '../middleware/store.ts';

/** A page request of the session list, validated. */
export interface ListQuery {
  /** Sessions per page, 1 to MAX_PAGE_SIZE. */
  limit: number;
  /** Most recently active first, or soonest to expire first. */
  sort: ListSort;
  /** Absent for the first page. */
  cursor?: string;
}

/** A query parameter outside what it allows: the request gets 400 with this message. */
export class InvalidParameterError extends Error {
  /** Koa's status for the answer. */
  readonly status = 400;
  /** Koa's convention: the message is meant for the client. */
  readonly expose = true;

  /** @param message what is wrong with the parameter and what it accepts. */
  constructor(message: string) {
    super(message);
    this.name = 'InvalidParameterError';
  }
}

/** Sessions per page when the query gives no `limit`. */
export const DEFAULT_PAGE_SIZE = 50;
const SORTS: readonly ListSort[] = ['activity', 'expiry'];

/** One query parameter as text; an empty value counts as absent, a repeated one is an error. */
function single(query: ParsedUrlQuery, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw new InvalidParameterError(`${name} was given more than once; give it once.`);
  return value === undefined || value === '' ? undefined : value;
}

/** `limit`: a whole number from 1 to 1000, default 50. */
export function parseLimit(query: ParsedUrlQuery): number {
  const text = single(query, 'limit');
  if (text === undefined) return DEFAULT_PAGE_SIZE;
  const limit = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE_SIZE)) {
    throw new InvalidParameterError(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}.`);
  }
  return limit;
}

/**
 * `limit`, `sort` (activity or expiry, default activity) and `cursor` of a
 * session-list request. A malformed cursor throws InvalidCursorError (400)
 * here, before any store is asked.
 */
export function parseListQuery(query: ParsedUrlQuery): ListQuery {
  const limit = parseLimit(query);
  const sortText = single(query, 'sort') ?? 'activity';
  if (!(SORTS as string[]).includes(sortText)) throw new InvalidParameterError(`sort must be one of: ${SORTS.join(', ')}.`);
  const cursor = single(query, 'cursor');
  if (cursor !== undefined) decodeCursor(cursor);
  return { limit, sort: sortText as ListSort, ...(cursor === undefined ? {} : { cursor }) };
}
