/**
 * The one contract every sessionkeeper store implements: what koa-session needs
 * (read, write, extend, destroy) and what operators need (list, count, purge).
 *
 * Stores never see a raw session id. They are keyed by the session's public id,
 * a SHA-256 digest of the raw id (see `ids.ts`), so a dump of a store gives no
 * usable cookie. All times are milliseconds since the Unix epoch.
 */

import { createHash } from 'node:crypto';
import type { EventLog } from './event-log/event-log.ts';

/** The backends sessionkeeper ships. */
export type StoreKind = 'file' | 'redis' | 'postgres';

/** What the application keeps in a session: koa-session's JSON, without its `_`-prefixed bookkeeping. */
export type SessionData = Record<string, unknown>;

/** One stored session. */
export interface SessionRecord {
  /** The application's data. */
  data: SessionData;
  /** When the session was first stored (ms). Drives the absolute timeout. */
  createdAt: number;
  /** When a request last used the session (ms). */
  lastSeenAt: number;
  /** When the session expires (ms): the earlier of idle and absolute expiry. */
  expiresAt: number;
  /**
   * `data` as JSON, when the caller has encoded it already (to check its size): a store that keeps JSON
   * writes this instead of encoding `data` again. Never returned by a read.
   */
  dataJson?: string;
  /**
   * Who the session belongs to (`setSessionOwner`): set when the session is created and never changed for
   * its id (a new owner means a new id). Every store indexes sessions by owner with the session itself.
   */
  owner?: string;
  /** The device the session was created on, kept only with `SESSION_TRACK_DEVICE` (personal data). Set at creation, like `owner`. */
  device?: DeviceFacts;
}

/** What sessionkeeper keeps of a session's device with `SESSION_TRACK_DEVICE`: personal data, off by default. */
export interface DeviceFacts {
  /** The `User-Agent` header, shortened (see `device.ts`). */
  userAgent: string;
  /** The client's address as Koa gives it (`ctx.ip`: `X-Forwarded-For` only when the app trusts its proxy). */
  address: string;
}

/** A session a store removed (expired, evicted, ended by owner): its public id and its owner, when it had one. */
export interface RemovedSession {
  id: string;
  owner?: string;
}

/** What the dashboard shows of a session: never the values it holds. */
export interface SessionSummary {
  /** Public id (digest of the raw id), safe to show and log. */
  id: string;
  /** When the session was first stored (ms). */
  createdAt: number;
  /** When a request last used the session (ms). */
  lastSeenAt: number;
  /** When the session expires unless it is used again (ms). */
  expiresAt: number;
  /** Size of the stored data as UTF-8 JSON, in bytes. */
  sizeBytes: number;
  /** Names of the top-level keys the session holds. */
  keys: string[];
  /** Who the session belongs to, when it has an owner. */
  owner?: string;
  /** Its device facts, when they were tracked. */
  device?: DeviceFacts;
}

/** The limits that roll a session forward as it is used (ms; `absoluteTtlMs` 0 = none). */
export interface Lifetime {
  /** A session unused this long expires (`SESSION_TTL`). */
  idleTtlMs: number;
  /** A session this old expires however active it is (`SESSION_ABSOLUTE_TTL`); 0 = no limit. */
  absoluteTtlMs: number;
}

/** How a read rolls a session forward: its lifetime, and how often at most. */
export interface Rolling extends Lifetime {
  /**
   * A session last rolled less than this long ago (ms) is only read, not written (`SESSION_TOUCH_AFTER`);
   * 0 or absent: rolled on every read.
   */
  touchAfterMs?: number;
}

/** True when a session last rolled at `lastSeenAt` is due to roll at `now`. */
export function isDueToRoll(rolling: Rolling, lastSeenAt: number, now: number): boolean {
  return now - lastSeenAt >= (rolling.touchAfterMs ?? 0);
}

/** True when a rolling `get` at `now` returned this record rolled (a record not due keeps its older `lastSeenAt`). */
export function wasRolledAt(record: SessionRecord | undefined, now: number): boolean {
  return record?.lastSeenAt === now;
}

/** When a session created at `createdAt` and used at `now` expires: the earlier of its idle and absolute limits. */
export function expiryOf(lifetime: Lifetime, createdAt: number, now: number): number {
  const idle = now + lifetime.idleTtlMs;
  return lifetime.absoluteTtlMs > 0 ? Math.min(idle, createdAt + lifetime.absoluteTtlMs) : idle;
}

/** Orders of the session list. */
export type ListSort = 'activity' | 'expiry';

/** Which page of the session list `list` returns. */
export interface ListOptions {
  /** Page size, 1..1000. */
  limit: number;
  /** Opaque cursor returned as `nextCursor` by the previous page; absent for the first page. */
  cursor?: string;
  /** `activity`: most recently used first. `expiry`: soonest to expire first. */
  sort: ListSort;
  /** Sessions with `expiresAt <= now` are not live and are not listed. */
  now: number;
  /** Only this owner's sessions, read from the owner index: the store reads no other session. */
  owner?: string;
}

/** One page of the session list. */
export interface SessionPage {
  /** At most `limit` live sessions, in the order asked for. */
  sessions: SessionSummary[];
  /** Cursor of the next page, or null when this page is the last. */
  nextCursor: string | null;
}

/** How a counter of `increment` counts: hits within a window, held longer once it reaches its limit. */
export interface CounterRule {
  /** A counter's first hit opens a window this long (ms); a hit after it starts a new count. */
  windowMs: number;
  /** The count at which the counter holds: the hit that reaches it moves the expiry to `now + holdMs`. */
  limit: number;
  /** How long a counter that reached `limit` holds from that hit (ms). */
  holdMs: number;
}

/** A counter as `increment` leaves it. */
export interface CounterState {
  /** Hits counted in the current window. */
  count: number;
  /** When the counter lapses (ms); from then on it counts from zero again. */
  expiresAt: number;
}

/**
 * A session store. Every method rejects with a `StoreUnavailableError` (or the
 * driver's own error, which the caller wraps) when the backend cannot answer;
 * "not found" and "expired" are never errors.
 */
export interface SessionStore {
  /** Which backend this is. */
  readonly kind: StoreKind;
  /** Where the sessions live, for operators (a directory, a host, a table); never contains a password. */
  readonly location: string;

  /** Creates tables, directories or scripts the store needs; safe to call from several processes at once. */
  init(): Promise<void>;
  /**
   * The live session with this public id, or undefined when it is missing or expired at `now`.
   * With `roll`, when the session is due (`isDueToRoll`: last rolled `roll.touchAfterMs` ago or more), the
   * same atomic step also moves `lastSeenAt` to `now` and `expiresAt` to `expiryOf(roll, createdAt, now)`
   * and returns the moved times; a session not due is only read, nothing written. A request's read is its
   * rolling refresh, one store call, and a session gone meanwhile is never written back.
   */
  get(id: string, now: number, roll?: Rolling): Promise<SessionRecord | undefined>;
  /**
   * Stores a new session, replacing any session with the same id, and indexes it under its owner if it has one.
   * With `maxPerOwner` > 0 and an owned record, the same atomic step (across processes) first removes that
   * owner's least recently used live sessions until `maxPerOwner - 1` remain, and returns them (the caller logs
   * them as evicted); otherwise it returns an empty list.
   */
  create(id: string, record: SessionRecord, maxPerOwner?: number): Promise<RemovedSession[]>;
  /**
   * Stores a session only if the store holds nothing under this id, live or expired, in one atomic step
   * across processes, and durably (it survives a crash of the backend once this resolves). Returns false,
   * writing nothing, when the id is taken. A backend switch copies a session this way, so that of several
   * processes moving the same session at once exactly one copies it (see `session-move.ts`).
   */
  insert(id: string, record: SessionRecord): Promise<boolean>;
  /**
   * Replaces the data and times of a session that still exists and has not expired at `now`; its owner and
   * device stay as created. Returns false, writing nothing, when it is gone: a destroyed session is never
   * brought back, also by a removal from another process racing this call.
   */
  update(id: string, record: SessionRecord, now: number): Promise<boolean>;
  /** Removes a session. Returns true when this call removed it, false when it was not there. */
  destroy(id: string): Promise<boolean>;
  /** One page of live sessions, without loading the whole store. */
  list(options: ListOptions): Promise<SessionPage>;
  /** How many live (unexpired at `now`) sessions the store holds. */
  count(now: number): Promise<number>;
  /**
   * The ids of the sessions live at `now`, in batches of at most `batchSize`, in one pass over the store (a
   * bulk migration reads them all). Sessions created or removed meanwhile may or may not be returned. Optional:
   * without it, such a pass pages through `list`, which suits a store whose pages are index range scans.
   */
  walkIds?(now: number, batchSize: number): AsyncIterable<string[]>;
  /**
   * Removes up to `batchSize` sessions that expired at or before `now` (with their owner index entries) and
   * returns them. Atomic per session: when several processes purge at once, each id is returned by exactly one call.
   */
  purgeExpired(now: number, batchSize: number): Promise<RemovedSession[]>;
  /**
   * While more than `maxCount` sessions are live at `now`, removes those nearest to expiry, at most
   * `batchSize` per call, and returns them (with their owners). Counting and removing are one step across processes:
   * several sweepers at once never evict more than the excess, and each id is returned by one call only.
   */
  evictBeyond(maxCount: number, now: number, batchSize: number): Promise<RemovedSession[]>;
  /**
   * Removes the sessions of `owner` live at `now`, but those in `except`, reading the owner index and no other
   * session, and returns the ids it removed. Each id is returned by one call only when several run at once;
   * a session the owner creates meanwhile may be kept. Expired ones are left to `purgeExpired`. Failing after
   * some were removed, it rejects with a PartialRemovalError naming them.
   */
  endOwnerSessions(owner: string, now: number, except: readonly string[]): Promise<string[]>;
  /** Removes every session, live or expired, and returns how many there were. */
  destroyAll(): Promise<number>;
  /**
   * Counts one hit on the counter `id` (a public-id-shaped digest) and returns its state, atomically across
   * processes: concurrent hits are all counted. A counter is a record of this store whose data is `{ count }`,
   * so `get` reads it, `destroy` resets it and `purgeExpired` removes it once it lapses. A missing or lapsed
   * counter starts at 1 and expires `windowMs` from `now`; the hit that brings it to `limit` moves its expiry
   * to at least `now + holdMs`.
   */
  increment(id: string, now: number, rule: CounterRule): Promise<CounterState>;
  /**
   * A store on the same backend and connection whose records are kept apart from these under `name`
   * (a letter-and-digit word): never listed, counted, purged or destroyed with them. It shares this store's
   * client, pool or directory, so closing it closes nothing; close this store when both are done.
   */
  withNamespace(name: string): SessionStore;
  /**
   * The shared event log kept beside these sessions, on the same client, pool or directory (closing the
   * store closes it). Events older than `retentionMs` are never returned. A store without it (a custom
   * backend) gets a log in the process's memory, which each process keeps for itself.
   */
  openEventLog?(retentionMs: number): EventLog;
  /** Resolves when the backend answers, rejects otherwise. */
  ping(): Promise<void>;
  /** Releases what the store opened itself (a pool or client it was given stays open). */
  close(): Promise<void>;
}

/** The store did not answer, or answered with an error: requests get 503. */
export class StoreUnavailableError extends Error {
  /** Koa's status for the answer: 503, the store may answer again later. */
  readonly status = 503;
  /** Koa's convention: the message is meant for the client (it never says where the store lives). */
  readonly expose = true;
  /**
   * @param storeKind the backend that failed.
   * @param message what the client is told.
   * @param options `cause`: the driver's error or the timeout, for the log line.
   */
  constructor(readonly storeKind: StoreKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * A removal of several steps (a store ending an owner's sessions shard by shard, say) that failed part-way:
 * `removedIds` were removed and must still be reported, once; the rest were not. The caller reports them, then
 * treats the error as the store's failure.
 */
export class PartialRemovalError extends Error {
  constructor(
    readonly removedIds: readonly string[],
    cause: unknown,
  ) {
    super(`removed ${removedIds.length} sessions, then failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'PartialRemovalError';
  }
}

/** The PartialRemovalError `err` is, or wraps (the guard wraps every store error in a StoreUnavailableError). */
export function partialRemovalOf(err: unknown): PartialRemovalError | undefined {
  if (err instanceof PartialRemovalError) return err;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause instanceof PartialRemovalError ? cause : undefined;
}

/** The JSON a store writes for a record's data: the caller's encoding when it passed one. */
export function dataJsonOf(record: SessionRecord): string {
  return record.dataJson ?? JSON.stringify(record.data);
}

/**
 * The ids of the sessions live at `now`, in batches of at most `batchSize`: the store's own one-pass walk
 * (`walkIds`) when it has one, else its list's pages by expiry, which suit a store whose pages are index scans.
 */
export async function* liveIdBatches(store: SessionStore, now: number, batchSize: number): AsyncIterable<string[]> {
  if (store.walkIds) {
    yield* store.walkIds(now, batchSize);
    return;
  }
  let cursor: string | undefined;
  do {
    const page = await store.list({ sort: 'expiry', limit: batchSize, cursor, now });
    yield page.sessions.map((session) => session.id);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/** Size of session data as stored: UTF-8 JSON bytes. */
export function dataSizeBytes(data: SessionData): number {
  return Buffer.byteLength(JSON.stringify(data), 'utf8');
}

/** What the dashboard shows of a stored session: its times, size and key names, never its values. */
export function summaryOf(id: string, { data, createdAt, lastSeenAt, expiresAt, owner, device }: SessionRecord): SessionSummary {
  const summary: SessionSummary = { id, createdAt, lastSeenAt, expiresAt, sizeBytes: dataSizeBytes(data), keys: Object.keys(data) };
  if (owner !== undefined) summary.owner = owner;
  if (device !== undefined) summary.device = device;
  return summary;
}

/** The longest owner a store accepts, in UTF-16 code units: room for an e-mail address or a long external id. */
export const MAX_OWNER_LENGTH = 512;

/**
 * Why `owner` cannot name a session's owner, or undefined when it can: a non-empty, well-formed string of at
 * most MAX_OWNER_LENGTH code units without NUL (which PostgreSQL's text refuses). Anything else is allowed:
 * unicode, `:`, `*`, `{}`, `%`, quotes; stores never put an owner into a key or a path as it is.
 */
export function ownerProblem(owner: unknown): string | undefined {
  if (typeof owner !== 'string') return `an owner must be a string, not ${owner === null ? 'null' : typeof owner}`;
  if (owner.length === 0) return 'an owner must not be empty';
  if (owner.length > MAX_OWNER_LENGTH) return `an owner must be at most ${MAX_OWNER_LENGTH} characters, not ${owner.length}`;
  if (owner.includes('\0')) return 'an owner must not contain NUL characters';
  // A lone surrogate does not survive UTF-8: it comes back as U+FFFD.
  if (Buffer.from(owner, 'utf8').toString('utf8') !== owner) return 'an owner must be well-formed unicode (no lone surrogates)';
  return undefined;
}

/** Throws a TypeError naming the problem unless `owner` can name a session's owner (see `ownerProblem`). */
export function assertOwner(owner: unknown): asserts owner is string {
  const problem = ownerProblem(owner);
  if (problem) throw new TypeError(`sessionkeeper: ${problem}`);
}

/** The hex SHA-256 of an owner: how the stores name its index (a key, a directory), never the owner itself. */
export function ownerDigest(owner: string): string {
  return createHash('sha256').update(owner, 'utf8').digest('hex');
}

/** Names `withNamespace` accepts: they become part of a key prefix, a table name or a directory name. */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9]{0,15}$/;

/** Throws unless `name` is a namespace name every store can use as it is. */
export function assertNamespaceName(name: string): void {
  if (!NAMESPACE_PATTERN.test(name)) throw new TypeError(`store namespace ${JSON.stringify(name)} is not valid: expected 1 to 16 lower-case letters and digits, starting with a letter`);
}

/** The data of a counter record after `count` hits, as every store writes it. */
export function counterData(count: number): SessionData {
  return { count };
}

/** Page sizes accepted by `list`. */
export const MAX_PAGE_SIZE = 1000;
