/**
 * The Redis store: one hash per session (`<prefix>s:<id>`, fields c, l, e, d)
 * with a native expiry, plus two sorted sets indexing the ids by expiry
 * (`<prefix>exp`) and by last activity (`<prefix>act`). Listing, counting and
 * sweeping read the indexes, never SCAN; every write (creation, conditional
 * updates, purges, evictions) is one Lua script: atomic, and one round trip.
 */
import { createHash } from 'node:crypto';
import { createClient, type RedisClientType, type RespVersions } from 'redis';
import { redactUrl } from '../config.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { RedisEventLog } from '../event-log/redis-event-log.ts';
import { assertNamespaceName, dataJsonOf, summaryOf, type CounterRule, type CounterState, type Rolling, type ListOptions, type SessionPage, type SessionRecord, type SessionStore, type SessionSummary } from '../store.ts';

/**
 * Any node-redis v5 client, as `createClient()` returns it: RESP 2 or 3, any modules, functions or scripts
 * (the store uses none of them). A `typeMapping` is refused, since the store reads replies as strings and numbers.
 */
export type RedisStoreClient = RedisClientType<any, any, any, RespVersions>;

/** What `new RedisStore(…)` takes: exactly one of `client` or `url`. */
export interface RedisStoreOptions {
  /** A node-redis v5 client the caller owns (and connects): the store uses it and never closes it. */
  client?: RedisStoreClient;
  /** A connection URL: the store creates its own client, connects it in `init()` and closes it in `close()`. */
  url?: string;
  /** Start of every key the store touches. Default `sessionkeeper:`. */
  prefix?: string;
  /**
   * How long after its expiry Redis drops a session by itself. The sweeper normally removes (and logs) it
   * first; the native expiry only guarantees nothing is kept forever when nobody sweeps. Default 10 minutes.
   */
  expiryGraceMs?: number;
  /** Called with the errors of the store's own client (connection lost, reconnect failed); ignored by default. */
  onBackgroundError?: (err: Error) => void;
  /** Where the data lives, for operators, when `client` is given (never a password). */
  location?: string;
}

const DEFAULT_PREFIX = 'sessionkeeper:';
const DEFAULT_EXPIRY_GRACE_MS = 10 * 60_000;
const CONNECT_TIMEOUT_MS = 2_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
const DESTROY_ALL_BATCH = 1_000;

interface Script {
  text: string;
  sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

/** create: the hash, its native expiry and both index entries, in one command (fewer replies than MULTI). */
const CREATE = script(`
redis.call('HSET', KEYS[1], 'c', ARGV[2], 'l', ARGV[3], 'e', ARGV[4], 'd', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1`);

/** insert: create's writes, only when no hash (live, or expired within its grace) holds the id. */
const INSERT = script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'c', ARGV[2], 'l', ARGV[3], 'e', ARGV[4], 'd', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1`);

/** update: writes only while the session exists and is unexpired, so a destroyed session never comes back. */
const WRITE_IF_LIVE = script(`
local expiresAt = redis.call('HGET', KEYS[1], 'e')
if not expiresAt or tonumber(expiresAt) <= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return 1`);

/**
 * get with a rolling refresh: reads a live session and, when it is due (last rolled ARGV[6] ms ago or more),
 * moves its last-seen time and expiry in the same atomic step (expiryOf in Lua); a session not due is only
 * read, a missing or expired one neither returned nor written.
 * ARGV: id, now, idleTtlMs, absoluteTtlMs, grace, touchAfterMs.
 */
const GET_AND_ROLL = script(`
local f = redis.call('HMGET', KEYS[1], 'c', 'l', 'e', 'd')
local now = tonumber(ARGV[2])
if not f[3] or tonumber(f[3]) <= now then return nil end
if now - tonumber(f[2]) < tonumber(ARGV[6]) then return f end
local e = now + tonumber(ARGV[3])
if tonumber(ARGV[4]) > 0 then e = math.min(e, tonumber(f[1]) + tonumber(ARGV[4])) end
local l, ex = ARGV[2], string.format('%d', e)
redis.call('HSET', KEYS[1], 'l', l, 'e', ex)
redis.call('PEXPIREAT', KEYS[1], string.format('%d', e + tonumber(ARGV[5])))
redis.call('ZADD', KEYS[2], ex, ARGV[1])
redis.call('ZADD', KEYS[3], l, ARGV[1])
return {f[1], l, ex, f[4]}`);

/**
 * increment: one more hit on a counter record (its count also in field n, so nothing decodes JSON). A missing
 * or lapsed counter restarts at 1 with a fresh window; the hit that reaches the limit holds it longer.
 * ARGV: id, now, windowMs, limit, holdMs, grace.
 */
const INCREMENT = script(`
local f = redis.call('HMGET', KEYS[1], 'c', 'e', 'n')
local now = tonumber(ARGV[2])
local created, e, count = now, now + tonumber(ARGV[3]), 1
if f[2] and tonumber(f[2]) > now and f[3] then
  created, e, count = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]) + 1
end
if count == tonumber(ARGV[4]) then e = math.max(e, now + tonumber(ARGV[5])) end
local ex = string.format('%d', e)
redis.call('HSET', KEYS[1], 'c', string.format('%d', created), 'l', ARGV[2], 'e', ex, 'n', count, 'd', '{"count":' .. count .. '}')
redis.call('PEXPIREAT', KEYS[1], string.format('%d', e + tonumber(ARGV[6])))
redis.call('ZADD', KEYS[2], ex, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return {count, ex}`);

/**
 * purgeExpired and evictBeyond: atomic, so concurrent callers never return the same id. With ARGV[5]
 * (evictBeyond's maxCount), removes only what the range holds beyond that many.
 */
const REMOVE_BY_EXPIRY = script(`
local limit = tonumber(ARGV[4])
if ARGV[5] then
  limit = math.min(limit, redis.call('ZCOUNT', KEYS[1], ARGV[2], ARGV[3]) - tonumber(ARGV[5]))
  if limit < 1 then return {} end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('DEL', ARGV[1] .. id)
end
return ids`);

/**
 * One page of an index, strictly after the cursor (score, id), skipping sessions that are gone or expired.
 * Equal scores are ordered by id in byte order, as Redis orders them; the cursor's place among them is
 * found by binary search over ranks, so a large group of equal scores is never read whole.
 * Returns rows {id, score, c, l, e, d}.
 */
const LIST_PAGE = script(`
local function less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function rankPast(key, score, id, orEqual)
  local lo = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  local hi = lo + redis.call('ZCOUNT', key, score, score)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local member = redis.call('ZRANGE', key, mid, mid)[1]
    if less(member, id) or (orEqual and member == id) then lo = mid + 1 else hi = mid end
  end
  return lo
end
local key, prefix, now, want, desc = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == 'desc'
local pos
if desc then pos = redis.call('ZCARD', key) - 1 else pos = redis.call('ZCOUNT', key, '-inf', ARGV[2]) end
if ARGV[5] then
  local rank = rankPast(key, ARGV[5], ARGV[6], not desc)
  if desc then pos = math.min(pos, rank - 1) else pos = math.max(pos, rank) end
end
local rows = {}
while #rows < want and pos >= 0 do
  local lo, hi = pos, pos + want - 1
  if desc then lo, hi = math.max(0, pos - want + 1), pos end
  local batch = redis.call('ZRANGE', key, lo, hi, 'WITHSCORES')
  if #batch == 0 then break end
  local first, last, step = 1, #batch - 1, 2
  if desc then first, last, step = #batch - 1, 1, -2 end
  for i = first, last, step do
    if #rows == want then break end
    local f = redis.call('HMGET', prefix .. batch[i], 'c', 'l', 'e', 'd')
    if f[3] and tonumber(f[3]) > now then rows[#rows + 1] = {batch[i], batch[i + 1], f[1], f[2], f[3], f[4]} end
  end
  if desc then pos = lo - 1 else pos = hi + 1 end
end
return rows`);

/** Sessions in Redis, shared by every process that uses the same Redis and prefix. Its methods keep the SessionStore contract. */
export class RedisStore implements SessionStore {
  readonly kind = 'redis';
  readonly location: string;
  private readonly client: RedisStoreClient;
  private readonly ownsClient: boolean;
  private readonly prefix: string;
  private readonly sessionPrefix: string;
  private readonly expiryIndex: string;
  private readonly activityIndex: string;
  private readonly expiryGraceMs: number;

  constructor(options: RedisStoreOptions) {
    if (!options.client === !options.url) {
      throw new Error('RedisStore: pass exactly one of client (yours to close) or url (the store opens and closes its client)');
    }
    this.ownsClient = !options.client;
    this.client = options.client ?? this.createOwnClient(options.url!, options.onBackgroundError ?? (() => {}));
    this.location = options.url ? redactUrl(options.url) : options.location ?? 'redis (shared client)';
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    this.prefix = prefix;
    this.sessionPrefix = `${prefix}s:`;
    this.expiryIndex = `${prefix}exp`;
    this.activityIndex = `${prefix}act`;
    this.expiryGraceMs = options.expiryGraceMs ?? DEFAULT_EXPIRY_GRACE_MS;
  }

  /**
   * Connects the store's own client and loads the scripts. Rejects with the first connection error instead
   * of waiting for Redis; the client keeps reconnecting in the background, and calls made meanwhile reject at once.
   */
  async init(): Promise<void> {
    if (this.ownsClient && !this.client.isReady) await this.connectOrFail();
    await Promise.all([CREATE, INSERT, WRITE_IF_LIVE, GET_AND_ROLL, REMOVE_BY_EXPIRY, LIST_PAGE, INCREMENT].map((s) => this.client.scriptLoad(s.text)));
  }

  async get(id: string, now: number, roll?: Rolling): Promise<SessionRecord | undefined> {
    const [c, l, e, d] = roll
      ? ((await this.run(GET_AND_ROLL, [this.sessionKey(id), this.expiryIndex, this.activityIndex], [
          id, String(now), String(roll.idleTtlMs), String(roll.absoluteTtlMs), String(this.expiryGraceMs), String(roll.touchAfterMs ?? 0),
        ])) as (string | null)[] | null) ?? []
      : await this.client.hmGet(this.sessionKey(id), ['c', 'l', 'e', 'd']);
    if (!c || !l || !e || !d || Number(e) <= now) return undefined;
    return { data: JSON.parse(d), createdAt: Number(c), lastSeenAt: Number(l), expiresAt: Number(e) };
  }

  async create(id: string, record: SessionRecord): Promise<void> {
    await this.run(CREATE, [this.sessionKey(id), this.expiryIndex, this.activityIndex], this.creationArgs(id, record));
  }

  /** As durable as Redis is configured to be (`appendonly`, `save`): the README's "Switching backends" says so. */
  async insert(id: string, record: SessionRecord): Promise<boolean> {
    return (await this.run(INSERT, [this.sessionKey(id), this.expiryIndex, this.activityIndex], this.creationArgs(id, record))) === 1;
  }

  async update(id: string, record: SessionRecord, now: number): Promise<boolean> {
    const { createdAt, lastSeenAt, expiresAt } = record;
    return this.writeIfLive(id, lastSeenAt, expiresAt, now, ['c', String(createdAt), 'l', String(lastSeenAt), 'e', String(expiresAt), 'd', dataJsonOf(record)]);
  }

  async destroy(id: string): Promise<boolean> {
    const [keys, entries] = await this.client
      .multi()
      .del(this.sessionKey(id))
      .zRem(this.expiryIndex, id)
      .zRem(this.activityIndex, id)
      .exec();
    return Number(keys) + Number(entries) > 0;
  }

  /** One script call per page: limit + 1 rows, the extra one saying whether a next page exists. */
  async list({ limit, cursor, sort, now }: ListOptions): Promise<SessionPage> {
    const position = cursor === undefined ? undefined : decodeCursor(cursor);
    const after = position ? [String(position.score), position.id] : [];
    const index = sort === 'expiry' ? this.expiryIndex : this.activityIndex;
    const order = sort === 'expiry' ? 'asc' : 'desc';
    const rows = (await this.run(LIST_PAGE, [index], [this.sessionPrefix, String(now), String(limit + 1), order, ...after])) as string[][];
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor({ score: Number(last[1]), id: last[0]! }) : null;
    return { sessions: page.map(toSummary), nextCursor };
  }

  async count(now: number): Promise<number> {
    return this.client.zCount(this.expiryIndex, `(${now}`, '+inf');
  }

  async purgeExpired(now: number, batchSize: number): Promise<string[]> {
    return this.removeByExpiry('-inf', String(now), batchSize);
  }

  /** The contract passes no `now`, so live means unexpired by this process's clock, the one callers take `now` from. */
  async evictBeyond(maxCount: number, now: number, batchSize: number): Promise<string[]> {
    return this.removeByExpiry(`(${now}`, '+inf', batchSize, maxCount);
  }

  /**
   * Removes every indexed session in atomic batches (the purge script over the whole expiry range), so a
   * session created meanwhile is either removed whole or kept whole — never left without its index entries.
   * The index outlives each hash's native expiry, so it names every session there is.
   */
  async destroyAll(): Promise<number> {
    let removed = 0;
    for (;;) {
      const batch = await this.removeByExpiry('-inf', '+inf', DESTROY_ALL_BATCH);
      removed += batch.length;
      if (batch.length < DESTROY_ALL_BATCH) return removed;
    }
  }

  async increment(id: string, now: number, rule: CounterRule): Promise<CounterState> {
    const [count, expiresAt] = (await this.run(INCREMENT, [this.sessionKey(id), this.expiryIndex, this.activityIndex], [
      id, String(now), String(rule.windowMs), String(rule.limit), String(rule.holdMs), String(this.expiryGraceMs),
    ])) as [number, string];
    return { count: Number(count), expiresAt: Number(expiresAt) };
  }

  /** Keys under `<prefix><name>:`, on the same client. */
  withNamespace(name: string): RedisStore {
    assertNamespaceName(name);
    return new RedisStore({ client: this.client, prefix: `${this.prefix}${name}:`, expiryGraceMs: this.expiryGraceMs, location: this.location });
  }

  /** The event log beside these sessions: a stream at `<prefix>_events` and tally hashes at `<prefix>_events:<minute>`. */
  openEventLog(retentionMs: number): RedisEventLog {
    return new RedisEventLog({ client: this.client, key: `${this.prefix}_events`, tallyPrefix: `${this.prefix}_events:`, retentionMs });
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (this.ownsClient && this.client.isOpen) await this.client.close();
  }

  /** Fails fast while disconnected (no offline queue) and reconnects forever with capped backoff. */
  private createOwnClient(url: string, onBackgroundError: (err: Error) => void): RedisStoreClient {
    const client = createClient({
      url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        reconnectStrategy: (retries: number) => Math.min((retries + 1) * 100, MAX_RECONNECT_DELAY_MS),
      },
    });
    // Without a listener, node-redis's 'error' events would crash the process.
    client.on('error', onBackgroundError);
    return client;
  }

  /** Resolves when the client is ready, rejects with the first connection error; reconnecting goes on either way. */
  private connectOrFail(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onReady = () => {
        this.client.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        this.client.off('ready', onReady);
        reject(err);
      };
      this.client.once('ready', onReady).once('error', onError);
      // Its outcome arrives through the events above; connect() itself only settles once Redis answers.
      if (!this.client.isOpen) this.client.connect().catch(() => {});
    });
  }

  /** ARGV of CREATE and INSERT: id, the three times, the data, and when Redis drops the hash by itself. */
  private creationArgs(id: string, record: SessionRecord): string[] {
    const { createdAt, lastSeenAt, expiresAt } = record;
    return [id, String(createdAt), String(lastSeenAt), String(expiresAt), dataJsonOf(record), String(expiresAt + this.expiryGraceMs)];
  }

  /** `changes`: the hash fields to set, as field, value, field, value… */
  private async writeIfLive(id: string, lastSeenAt: number, expiresAt: number, now: number, changes: string[]): Promise<boolean> {
    const args = [String(now), id, String(expiresAt), String(lastSeenAt), String(expiresAt + this.expiryGraceMs), ...changes];
    return (await this.run(WRITE_IF_LIVE, [this.sessionKey(id), this.expiryIndex, this.activityIndex], args)) === 1;
  }

  private async removeByExpiry(min: string, max: string, limit: number, keepCount?: number): Promise<string[]> {
    // LIMIT with a negative count would mean "all".
    if (limit < 1) return [];
    const args = [this.sessionPrefix, min, max, String(limit), ...(keepCount === undefined ? [] : [String(keepCount)])];
    const ids = await this.run(REMOVE_BY_EXPIRY, [this.expiryIndex, this.activityIndex], args);
    return ids as string[];
  }

  /** EVALSHA, falling back to EVAL (which caches the script again) after a Redis restart or SCRIPT FLUSH. */
  private async run(lua: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.client.evalSha(lua.sha, { keys, arguments: args });
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.client.eval(lua.text, { keys, arguments: args });
    }
  }

  private sessionKey(id: string): string {
    return `${this.sessionPrefix}${id}`;
  }
}

function toSummary([id, , c, l, e, d]: string[]): SessionSummary {
  return summaryOf(id!, { data: JSON.parse(d!), createdAt: Number(c), lastSeenAt: Number(l), expiresAt: Number(e) });
}

