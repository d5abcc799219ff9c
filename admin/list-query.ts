import { isStrictlyEncoded } from '../web/strict-encoding.ts';
import type { ParsedUrlQuery } from 'node:querystring';
import { decodeCursor } from '../middleware/cursor.ts';
import { MAX_PAGE_SIZE, ownerProblem, type ListSort } from '../middleware/store.ts';

/** A page request of the session list, validated. */
export interface ListQuery {
  /** Sessions per page, 1 to MAX_PAGE_SIZE. */
  limit: number;
  /** Most recently active first, or soonest to expire first. */
  sort: ListSort;
  /** Absent for the first page. */
  cursor?: string;
  /** Only this owner's sessions; absent for every session. */
  owner?: string;
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
 * `limit`, `sort` (activity or expiry, default activity), `cursor` and `owner` of a
 * session-list request. A malformed cursor throws InvalidCursorError (400)
 * here, before any store is asked.
 */
export function parseListQuery(query: ParsedUrlQuery, querystring = ''): ListQuery {
  const limit = parseLimit(query);
  const sortText = single(query, 'sort') ?? 'activity';
  if (!(SORTS as string[]).includes(sortText)) throw new InvalidParameterError(`sort must be one of: ${SORTS.join(', ')}.`);
  const cursor = single(query, 'cursor');
  if (cursor !== undefined) decodeCursor(cursor);
  const owner = parseOwnerFilter(query, querystring);
  return { limit, sort: sortText as ListSort, ...(cursor === undefined ? {} : { cursor }), ...(owner === undefined ? {} : { owner }) };
}

/**
 * `owner`: absent for every session. Unlike the other parameters an empty value is an error, not "absent":
 * a script that sends `owner=` from an empty variable must not get every session back as if they were one owner's.
 */
export function parseOwnerFilter(query: ParsedUrlQuery, querystring: string): string | undefined {
  const value = query.owner;
  if (Array.isArray(value)) throw new InvalidParameterError('owner was given more than once; give it once.');
  if (value === undefined) return undefined;
  // The parsed value of a malformed escape is U+FFFD or the escape itself: another owner than the one meant.
  if (!isStrictlyEncoded(querystring)) throw new InvalidParameterError('The query is not valid percent-encoded UTF-8.');
  return checkedOwner(value);
}

/** `owner` itself when it can name a session's owner (see `ownerProblem`); otherwise InvalidParameterError (400) saying why. */
export function checkedOwner(owner: string | undefined): string {
  if (owner === undefined) throw new InvalidParameterError('No owner was given.');
  const problem = ownerProblem(owner);
  if (problem !== undefined) throw new InvalidParameterError(`That is not an owner: ${problem}.`);
  return owner;
}
