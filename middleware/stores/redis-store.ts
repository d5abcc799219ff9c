/**
 * The Redis store: one hash per session (`<prefix>s:<id>`, fields c, l, e, d,
 * and o, v for an owned session's owner and device) with a native expiry, plus
 * two sorted sets indexing the ids by expiry (`<prefix>exp`) and by last
 * activity (`<prefix>act`), and for each owner two more of its sessions alone
 * (see LIB below). Listing, counting and sweeping read the indexes, never SCAN;
 * every write (creation, conditional updates, purges, evictions, ending an
 * owner's sessions) is one Lua script: atomic, and one round trip.
 */
import { createHash } from 'node:crypto';
import { createClient, type RedisClientType, type RespVersions } from 'redis';
import { redactUrl } from '../config.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { RedisEventLog } from '../event-log/redis-event-log.ts';
import { assertNamespaceName, dataJsonOf, ownerDigest, summaryOf, type DeviceFacts, type ListSort, type RemovedSession, type CounterRule, type CounterState, type Rolling, type ListOptions, type SessionPage, type SessionRecord, type SessionStore, type SessionSummary } from '../store.ts';

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
/** Sessions one END_OWNER script removes: a few ms of Redis's time, then other clients get a turn. */
const END_OWNER_BATCH = 1_000;

interface Script {
  text: string;
  sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

/**
 * Lua shared by the scripts below. Keys beside the session hash `<prefix>s:<id>`: the indexes `<prefix>exp`
 * and `<prefix>act`; for owned sessions, the owner's own two indexes `<prefix>o:<digest>:act` and `:exp` (the
 * digest is the SHA-256 of the owner, computed by the store: an owner never becomes part of a key as it is) and
 * the map `<prefix>own` from id to digest and owner, which outlives the hash's native expiry so that the purge
 * always finds the owner's entries.
 */
const LIB = `
-- An owned session's link (its value in the map <prefix>own) is the owner's digest (64 hex characters)
-- followed by the owner: the digest names the owner's sets, the owner goes into the removal's report.
local function ownerIndexes(prefix, link)
  local base = prefix .. 'o:' .. string.sub(link, 1, 64)
  return base .. ':act', base .. ':exp'
end
local function removeSession(prefix, id)
  local removed = redis.call('DEL', prefix .. 's:' .. id) + redis.call('ZREM', prefix .. 'exp', id) + redis.call('ZREM', prefix .. 'act', id)
  local link = redis.call('HGET', prefix .. 'own', id)
  if not link then return removed, false end
  local act, exp = ownerIndexes(prefix, link)
  redis.call('ZREM', act, id)
  redis.call('ZREM', exp, id)
  redis.call('HDEL', prefix .. 'own', id)
  return removed, string.sub(link, 65)
end
-- An owner-index entry whose hash is gone (expired natively, or removed by an older release): out of the
-- owner's sets, and out of the map too once no index names the id (the purge, which needs it, is past).
local function dropDeadEntry(prefix, act, exp, id)
  redis.call('ZREM', act, id)
  redis.call('ZREM', exp, id)
  if not redis.call('ZSCORE', prefix .. 'exp', id) then redis.call('HDEL', prefix .. 'own', id) end
end
local function moveOwnerEntries(prefix, id, lastSeen, expires)
  local link = redis.call('HGET', prefix .. 'own', id)
  if not link then return end
  local act, exp = ownerIndexes(prefix, link)
  redis.call('ZADD', act, lastSeen, id)
  redis.call('ZADD', exp, expires, id)
end
-- The owner's least recently used live sessions beyond most - 1 (not counting id), removed; their ids.
local function evictOwnerBeyond(prefix, act, exp, most, now, id)
  local live, evicted = {}, {}
  for _, other in ipairs(redis.call('ZRANGE', act, 0, -1)) do
    local e = redis.call('HGET', prefix .. 's:' .. other, 'e')
    if not e then
      dropDeadEntry(prefix, act, exp, other)
    elseif tonumber(e) > now and other ~= id then
      live[#live + 1] = other
    end
  end
  for i = 1, #live - most + 1 do
    removeSession(prefix, live[i])
    evicted[#evicted + 1] = live[i]
  end
  return evicted
end
-- Writes a new session and its index entries (the owner's too, after the cap's evictions); the evicted ids.
-- ARGV as CREATE's and INSERT's (creationArgs in the store).
local function writeSession(a)
  local prefix, id, created, lastSeen, expires, data, dropAt = a[1], a[2], a[3], a[4], a[5], a[6], a[7]
  local owner, digest, device, most, now = a[8], a[9], a[10], tonumber(a[11]), tonumber(a[12])
  local key = prefix .. 's:' .. id
  local evicted = {}
  -- create replaces a session with the same id: its index entries (an owner's, say) go with it.
  if redis.call('EXISTS', key) == 1 then removeSession(prefix, id) end
  redis.call('HSET', key, 'c', created, 'l', lastSeen, 'e', expires, 'd', data)
  if owner ~= '' then
    local link = digest .. owner
    local act, exp = ownerIndexes(prefix, link)
    if most > 0 then evicted = evictOwnerBeyond(prefix, act, exp, most, now, id) end
    redis.call('HSET', key, 'o', owner)
    if device ~= '' then redis.call('HSET', key, 'v', device) end
    redis.call('HSET', prefix .. 'own', id, link)
    redis.call('ZADD', act, lastSeen, id)
    redis.call('ZADD', exp, expires, id)
  end
  redis.call('PEXPIREAT', key, dropAt)
  redis.call('ZADD', prefix .. 'exp', expires, id)
  redis.call('ZADD', prefix .. 'act', lastSeen, id)
  return evicted
end
`;

/** create: the hash, its native expiry and its index entries (the owner's too, after the cap's evictions), in one step. */
const CREATE = script(`${LIB}
return writeSession(ARGV)`);

/** insert: create's writes (never the cap's), only when no hash (live, or expired within its grace) holds the id. */
const INSERT = script(`${LIB}
-- The caller passes maxPerOwner 0: a moved session evicts nothing.
if redis.call('EXISTS', ARGV[1] .. 's:' .. ARGV[2]) == 1 then return 0 end
writeSession(ARGV)
return 1`);

/** destroy: the hash and every index entry; the number of keys and entries removed. */
const DESTROY = script(`${LIB}
return (removeSession(ARGV[1], ARGV[2]))`);

/**
 * update: writes only while the session exists and is unexpired, so a destroyed session never comes back.
 * ARGV: prefix, id, now, expires, lastSeen, pexpireat, then the hash fields to set.
 */
const WRITE_IF_LIVE = script(`${LIB}
local prefix, id = ARGV[1], ARGV[2]
local key = prefix .. 's:' .. id
local f = redis.call('HMGET', key, 'e', 'o')
if not f[1] or tonumber(f[1]) <= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', key, unpack(ARGV, 7))
redis.call('PEXPIREAT', key, ARGV[6])
redis.call('ZADD', prefix .. 'exp', ARGV[4], id)
redis.call('ZADD', prefix .. 'act', ARGV[5], id)
if f[2] then moveOwnerEntries(prefix, id, ARGV[5], ARGV[4]) end
return 1`);

/**
 * get with a rolling refresh: reads a live session and, when it is due (last rolled ARGV[7] ms ago or more),
 * moves its last-seen time and expiry in the same atomic step (expiryOf in Lua); a session not due is only
 * read, a missing or expired one neither returned nor written.
 * ARGV: prefix, id, now, idleTtlMs, absoluteTtlMs, grace, touchAfterMs.
 */
const GET_AND_ROLL = script(`${LIB}
local prefix, id = ARGV[1], ARGV[2]
local key = prefix .. 's:' .. id
local f = redis.call('HMGET', key, 'c', 'l', 'e', 'd', 'o', 'v')
local now = tonumber(ARGV[3])
if not f[3] or tonumber(f[3]) <= now then return nil end
if now - tonumber(f[2]) < tonumber(ARGV[7]) then return f end
local e = now + tonumber(ARGV[4])
if tonumber(ARGV[5]) > 0 then e = math.min(e, tonumber(f[1]) + tonumber(ARGV[5])) end
local l, ex = ARGV[3], string.format('%d', e)
redis.call('HSET', key, 'l', l, 'e', ex)
redis.call('PEXPIREAT', key, string.format('%d', e + tonumber(ARGV[6])))
redis.call('ZADD', prefix .. 'exp', ex, id)
redis.call('ZADD', prefix .. 'act', l, id)
if f[5] then moveOwnerEntries(prefix, id, l, ex) end
return {f[1], l, ex, f[4], f[5], f[6]}`);

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
 * (evictBeyond's maxCount), removes only what the range holds beyond that many. Returns id, owner ('' for
 * none), id, owner…
 */
const REMOVE_BY_EXPIRY = script(`${LIB}
local prefix, limit = ARGV[1], tonumber(ARGV[4])
local index = prefix .. 'exp'
if ARGV[5] then
  limit = math.min(limit, redis.call('ZCOUNT', index, ARGV[2], ARGV[3]) - tonumber(ARGV[5]))
  if limit < 1 then return {} end
end
local removed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', index, ARGV[2], ARGV[3], 'LIMIT', 0, limit)) do
  local _, owner = removeSession(prefix, id)
  removed[#removed + 1] = id
  removed[#removed + 1] = owner or ''
end
return removed`);

/**
 * endOwnerSessions, one batch: the next ARGV[4] entries (plus the kept ones) of the owner's expiry index that
 * are live by their score (so never an expired session, which the sweeper logs), each removed when its hash
 * is live, dropped when its hash is gone. Returns how many entries it read and dropped, then the ids it
 * removed: a batch that read fewer than it asked for was the last, one that changed nothing cannot go further.
 * ARGV: prefix, owner digest, now, limit, except…
 */
const END_OWNER = script(`${LIB}
local prefix, now = ARGV[1], tonumber(ARGV[3])
local act, exp = ownerIndexes(prefix, ARGV[2])
local except = {}
for i = 5, #ARGV do except[ARGV[i]] = true end
local entries = redis.call('ZRANGEBYSCORE', exp, '(' .. ARGV[3], '+inf', 'LIMIT', 0, tonumber(ARGV[4]) + #ARGV - 4)
local result, dropped = {#entries, 0}, 0
for _, id in ipairs(entries) do
  if not except[id] then
    local e = redis.call('HGET', prefix .. 's:' .. id, 'e')
    if not e then
      dropDeadEntry(prefix, act, exp, id)
      dropped = dropped + 1
    elseif tonumber(e) > now then
      removeSession(prefix, id)
      result[#result + 1] = id
    end
  end
end
result[2] = dropped
return result`);

/**
 * One page of an index, strictly after the cursor (score, id), skipping sessions that are gone or expired.
 * Equal scores are ordered by id in byte order, as Redis orders them; the cursor's place among them is
 * found by binary search over ranks, so a large group of equal scores is never read whole.
 * Returns rows {id, score, c, l, e, d, o, v}.
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
    local f = redis.call('HMGET', prefix .. batch[i], 'c', 'l', 'e', 'd', 'o', 'v')
    if f[3] and tonumber(f[3]) > now then rows[#rows + 1] = {batch[i], batch[i + 1], f[1], f[2], f[3], f[4], f[5], f[6]} end
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
    await Promise.all([CREATE, INSERT, DESTROY, WRITE_IF_LIVE, GET_AND_ROLL, REMOVE_BY_EXPIRY, END_OWNER, LIST_PAGE, INCREMENT].map((s) => this.client.scriptLoad(s.text)));
  }

  async get(id: string, now: number, roll?: Rolling): Promise<SessionRecord | undefined> {
    const [c, l, e, d, o, v] = roll
      ? ((await this.run(GET_AND_ROLL, [], [
          this.prefix, id, String(now), String(roll.idleTtlMs), String(roll.absoluteTtlMs), String(this.expiryGraceMs), String(roll.touchAfterMs ?? 0),
        ])) as (string | null)[] | null) ?? []
      : await this.client.hmGet(this.sessionKey(id), ['c', 'l', 'e', 'd', 'o', 'v']);
    if (!c || !l || !e || !d || Number(e) <= now) return undefined;
    return withIdentity({ data: JSON.parse(d), createdAt: Number(c), lastSeenAt: Number(l), expiresAt: Number(e) }, o, v);
  }

  async create(id: string, record: SessionRecord, maxPerOwner = 0): Promise<RemovedSession[]> {
    const evicted = (await this.run(CREATE, [], this.creationArgs(id, record, maxPerOwner))) as string[];
    return evicted.map((evictedId) => ({ id: evictedId, owner: record.owner }));
  }

  /** As durable as Redis is configured to be (`appendonly`, `save`): the README's "Switching backends" says so. */
  async insert(id: string, record: SessionRecord): Promise<boolean> {
    return (await this.run(INSERT, [], this.creationArgs(id, record, 0))) === 1;
  }

  /** The owner and device stay as created: only the data and times are written. */
  async update(id: string, record: SessionRecord, now: number): Promise<boolean> {
    const { createdAt, lastSeenAt, expiresAt } = record;
    const args = [
      this.prefix, id, String(now), String(expiresAt), String(lastSeenAt), String(expiresAt + this.expiryGraceMs),
      'c', String(createdAt), 'l', String(lastSeenAt), 'e', String(expiresAt), 'd', dataJsonOf(record),
    ];
    return (await this.run(WRITE_IF_LIVE, [], args)) === 1;
  }

  async destroy(id: string): Promise<boolean> {
    return Number(await this.run(DESTROY, [], [this.prefix, id])) > 0;
  }

  /** One script call per page: limit + 1 rows, the extra one saying whether a next page exists. */
  async list({ limit, cursor, sort, now, owner }: ListOptions): Promise<SessionPage> {
    const position = cursor === undefined ? undefined : decodeCursor(cursor);
    const after = position ? [String(position.score), position.id] : [];
    const index = owner === undefined ? (sort === 'expiry' ? this.expiryIndex : this.activityIndex) : this.ownerIndex(owner, sort);
    const order = sort === 'expiry' ? 'asc' : 'desc';
    const rows = (await this.run(LIST_PAGE, [index], [this.sessionPrefix, String(now), String(limit + 1), order, ...after])) as (string | null)[][];
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor({ score: Number(last[1]), id: last[0]! }) : null;
    return { sessions: page.map(toSummary), nextCursor };
  }

  async count(now: number): Promise<number> {
    return this.client.zCount(this.expiryIndex, `(${now}`, '+inf');
  }

  async purgeExpired(now: number, batchSize: number): Promise<RemovedSession[]> {
    return this.removeByExpiry('-inf', String(now), batchSize);
  }

  /** The contract passes no `now`, so live means unexpired by this process's clock, the one callers take `now` from. */
  async evictBeyond(maxCount: number, now: number, batchSize: number): Promise<RemovedSession[]> {
    return this.removeByExpiry(`(${now}`, '+inf', batchSize, maxCount);
  }

  /**
   * In batches of END_OWNER_BATCH, each one script: Redis serves other clients between them. Each batch reads
   * past what the one before removed or dropped; the kept sessions are read again each time.
   */
  async endOwnerSessions(owner: string, now: number, except: readonly string[]): Promise<string[]> {
    const ended: string[] = [];
    for (;;) {
      const args = [this.prefix, ownerDigest(owner), String(now), String(END_OWNER_BATCH), ...except];
      const [read, dropped, ...batch] = (await this.run(END_OWNER, [], args)) as [number, number, ...string[]];
      ended.push(...batch);
      if (Number(read) < END_OWNER_BATCH + except.length || batch.length + Number(dropped) === 0) return ended;
    }
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

  /** ARGV of CREATE and INSERT (see writeSession in LIB); the record's lastSeenAt is the cap's `now`. */
  private creationArgs(id: string, record: SessionRecord, maxPerOwner: number): string[] {
    const { createdAt, lastSeenAt, expiresAt, owner, device } = record;
    return [
      this.prefix, id, String(createdAt), String(lastSeenAt), String(expiresAt), dataJsonOf(record), String(expiresAt + this.expiryGraceMs),
      owner ?? '', owner === undefined ? '' : ownerDigest(owner), device ? JSON.stringify(device) : '', String(maxPerOwner), String(lastSeenAt),
    ];
  }

  private async removeByExpiry(min: string, max: string, limit: number, keepCount?: number): Promise<RemovedSession[]> {
    // LIMIT with a negative count would mean "all".
    if (limit < 1) return [];
    const args = [this.prefix, min, max, String(limit), ...(keepCount === undefined ? [] : [String(keepCount)])];
    const pairs = (await this.run(REMOVE_BY_EXPIRY, [], args)) as string[];
    const removed: RemovedSession[] = [];
    for (let i = 0; i < pairs.length; i += 2) removed.push(pairs[i + 1] ? { id: pairs[i]!, owner: pairs[i + 1] } : { id: pairs[i]! });
    return removed;
  }

  /** The owner's own index by activity or by expiry (see LIB). */
  private ownerIndex(owner: string, sort: ListSort): string {
    return `${this.prefix}o:${ownerDigest(owner)}:${sort === 'expiry' ? 'exp' : 'act'}`;
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

function toSummary([id, , c, l, e, d, o, v]: (string | null)[]): SessionSummary {
  return summaryOf(id!, withIdentity({ data: JSON.parse(d!), createdAt: Number(c), lastSeenAt: Number(l), expiresAt: Number(e) }, o, v));
}

/** A record with the owner (field o) and device (field v, JSON) of its hash, when it has them. */
function withIdentity(record: SessionRecord, owner: string | null | undefined, device: string | null | undefined): SessionRecord {
  if (owner) record.owner = owner;
  if (device) record.device = JSON.parse(device) as DeviceFacts;
  return record;
}

