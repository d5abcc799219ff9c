/**
 * The Redis store: one hash per session with a native expiry, indexed by
 * expiry and by last activity (and by owner), spread over 48 shards so that it
 * runs on a single Redis, a Sentinel-watched primary or a Redis Cluster alike
 * (redis-layout.ts). Reading a session, writing it and removing it is one Lua
 * script inside its shard (redis-scripts.ts); listing, counting and sweeping
 * read the shards' indexes, never SCAN, and merge what the shards answer.
 */
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { RedisEventLog } from '../event-log/redis-event-log.ts';
import { assertNamespaceName, dataJsonOf, ownerDigest, PartialRemovalError, summaryOf, type DeviceFacts, type RemovedSession, type CounterRule, type CounterState, type Rolling, type ListOptions, type SessionPage, type SessionRecord, type SessionStore, type SessionSummary } from '../store.ts';
import { type AnyRedisClient, createOwnClient, type RedisStoreClient, type RedisStoreCluster, type RedisTarget, withSlotRefresh } from './redis-connection.ts';
import { underLease } from './redis-lease.ts';
import { RedisLayout, SHARD_COUNT, type ShardKeys } from './redis-layout.ts';
import { moveUnshardedSessions } from './redis-unsharded.ts';
import { ALL_SCRIPTS, CREATE, DESTROY, GET_AND_ROLL, INCREMENT, INDEX_PAGE, INSERT, OWNER_PAGE, ownerIndexMember, RELEASE_LEASE, REMOVE_IDS, type Script, WRITE_IF_LIVE } from './redis-scripts.ts';
import { withinTime } from './time-limit.ts';

export type { AnyRedisClient, RedisStoreClient, RedisStoreCluster, RedisStoreSentinel } from './redis-connection.ts';

/** What `new RedisStore(…)` takes: exactly one of `client`, `url`, `clusterNodes` or `sentinels`. */
export interface RedisStoreOptions extends RedisTarget {
  /**
   * A node-redis v5 client, cluster client or Sentinel client the caller owns (and connects): the store uses
   * it and never closes it.
   */
  client?: AnyRedisClient;
  /** Start of every key the store touches. Default `sessionkeeper:`. It may not contain `{` or `}`. */
  prefix?: string;
  /**
   * How long after its expiry Redis drops a session by itself. The sweeper normally removes (and logs) it
   * first; the native expiry only guarantees nothing is kept forever when nobody sweeps. Default 10 minutes.
   */
  expiryGraceMs?: number;
  /** Called with the errors of the store's own client (connection lost, reconnect failed); ignored by default. */
  onBackgroundError?: (err: Error) => void;
  /**
   * Called when part of a step failed and the step went on: one shard of a purge or an eviction (what the
   * other shards removed is still returned), or a lease that could not be freed (it lapses by itself).
   * Default: onBackgroundError. Worth a warning: on a cluster, a primary is not answering.
   */
  onStepFailure?: (err: Error) => void;
  /** Where the data lives, for operators, when `client` is given (never a password). */
  location?: string;
}

/** The commands the store sends, as every kind of node-redis client has them. */
interface RedisCommands {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  hmGet(key: string, fields: string[]): Promise<(string | null)[]>;
  zCount(key: string, min: string, max: string): Promise<number>;
  zRangeWithScores(key: string, min: string, max: string, options: { BY: 'SCORE'; LIMIT: { offset: number; count: number } }): Promise<{ value: string; score: number }[]>;
  set(key: string, value: string, options: { NX: true; PX: number }): Promise<string | null>;
  scriptLoad(script: string): Promise<string>;
  ping(): Promise<string>;
  isReady: boolean;
  isOpen: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): RedisCommands;
  off(event: string, listener: (...args: never[]) => void): unknown;
}

const DEFAULT_PREFIX = 'sessionkeeper:';
const DEFAULT_EXPIRY_GRACE_MS = 10 * 60_000;
const CONNECT_TIMEOUT_MS = 2_000;
/** Ids one removal script takes (destroyAll, ending an owner's sessions): a few ms of Redis's time, then other clients get a turn. */
const REMOVAL_BATCH = 1_000;
const SESSION_FIELDS = ['c', 'l', 'e', 'd', 'o', 'v'];

/** One shard's answer to a page or a range: ids with their scores, in the order asked. */
interface Entry {
  id: string;
  score: number;
}

/** Sessions in Redis, shared by every process that uses the same Redis (or cluster) and prefix. Its methods keep the SessionStore contract. */
export class RedisStore implements SessionStore {
  readonly kind = 'redis';
  readonly location: string;
  private readonly client: AnyRedisClient;
  private readonly redis: RedisCommands;
  private readonly ownsClient: boolean;
  private readonly layout: RedisLayout;
  private readonly expiryGraceMs: number;
  /** The shard the next purge serves first: shards take turns when more has expired than one batch takes. */
  private purgeShard = 0;
  private closed = false;
  private readonly onBackgroundError: (err: Error) => void;
  private readonly onStepFailure: (err: Error) => void;

  constructor(options: RedisStoreOptions) {
    const targets = [options.client, options.url, options.clusterNodes?.length, options.sentinels?.length].filter(Boolean).length;
    if (targets !== 1) {
      throw new Error('RedisStore: pass exactly one of client (yours to close), url, clusterNodes or sentinels (the store opens and closes its client)');
    }
    if (options.sentinels?.length && !options.sentinelName) throw new Error('RedisStore: sentinels need sentinelName, the name of the primary they watch');
    this.ownsClient = !options.client;
    this.onBackgroundError = options.onBackgroundError ?? (() => {});
    this.onStepFailure = options.onStepFailure ?? this.onBackgroundError;
    if (options.client) {
      this.client = isCluster(options.client) ? withSlotRefresh(options.client as RedisStoreCluster) : options.client;
      this.location = options.location ?? 'redis (shared client)';
    } else {
      ({ client: this.client, location: this.location } = createOwnClient(options, this.onBackgroundError));
    }
    // Every kind of client has these commands with these signatures; their declared types differ only in generics.
    this.redis = this.client as unknown as RedisCommands;
    this.layout = new RedisLayout(options.prefix ?? DEFAULT_PREFIX);
    this.expiryGraceMs = options.expiryGraceMs ?? DEFAULT_EXPIRY_GRACE_MS;
  }

  /**
   * Connects the store's own client and loads the scripts. Rejects with the first connection error instead
   * of waiting for Redis; the client keeps reconnecting in the background, and calls made meanwhile reject at once.
   */
  async init(): Promise<void> {
    if (this.ownsClient && !this.redis.isReady) await this.connectOrFail();
    // A cluster client would load them on one node only; there, each node caches a script at its first EVAL.
    if (isCluster(this.client)) return;
    await Promise.all(ALL_SCRIPTS.map((s) => this.redis.scriptLoad(s.text)));
    await moveUnshardedSessions(this.redis as unknown as RedisStoreClient, this.layout, (id, record) => this.insert(id, record));
  }

  async get(id: string, now: number, roll?: Rolling): Promise<SessionRecord | undefined> {
    const shard = this.layout.shardFor(id);
    const [c, l, e, d, o, v] = roll
      ? ((await this.run(GET_AND_ROLL, shard.scriptKeys([id]), [
          id, String(now), String(roll.idleTtlMs), String(roll.absoluteTtlMs), String(this.expiryGraceMs), String(roll.touchAfterMs ?? 0),
        ])) as (string | null)[] | null) ?? []
      : await this.redis.hmGet(shard.session(id), SESSION_FIELDS);
    if (!c || !l || !e || !d || Number(e) <= now) return undefined;
    return withIdentity({ data: JSON.parse(d), createdAt: Number(c), lastSeenAt: Number(l), expiresAt: Number(e) }, o, v);
  }

  /**
   * With an owner and a cap, the creation and the cap's evictions take turns on the owner's lease: the
   * owner's sessions may sit in any shard, so counting them is several steps, which two sign-ins of one
   * owner must not interleave.
   */
  async create(id: string, record: SessionRecord, maxPerOwner = 0): Promise<RemovedSession[]> {
    const write = async () => {
      await this.run(CREATE, this.layout.shardFor(id).scriptKeys([id]), this.creationArgs(id, record));
    };
    const { owner } = record;
    if (owner === undefined || maxPerOwner < 1) {
      await write();
      return [];
    }
    const digest = ownerDigest(owner);
    return this.underLease(this.layout.ownerLease(digest), "an owner's cap (SESSION_MAX_PER_OWNER)", async () => {
      await write();
      return this.evictOwnerBeyond(digest, maxPerOwner, record.lastSeenAt, id);
    });
  }

  /** As durable as Redis is configured to be (`appendonly`, `save`): the README's "Switching backends" says so. */
  async insert(id: string, record: SessionRecord): Promise<boolean> {
    return (await this.run(INSERT, this.layout.shardFor(id).scriptKeys([id]), this.creationArgs(id, record))) === 1;
  }

  /** The owner and device stay as created: only the data and times are written. */
  async update(id: string, record: SessionRecord, now: number): Promise<boolean> {
    const { createdAt, lastSeenAt, expiresAt } = record;
    const args = [
      id, String(now), String(expiresAt), String(lastSeenAt), String(expiresAt + this.expiryGraceMs),
      'c', String(createdAt), 'l', String(lastSeenAt), 'e', String(expiresAt), 'd', dataJsonOf(record),
    ];
    return (await this.run(WRITE_IF_LIVE, this.layout.shardFor(id).scriptKeys([id]), args)) === 1;
  }

  async destroy(id: string): Promise<boolean> {
    return Number(await this.run(DESTROY, this.layout.shardFor(id).scriptKeys([id]), [id])) > 0;
  }

  /**
   * The page's ids merged from every shard (see firstOfShards), then its sessions read by id. The cursor is
   * the last (score, id) of the page, a position in the one order all shards share, so it stays valid
   * whatever the shards hold meanwhile. A session removed between the two steps is left out of its page.
   */
  async list({ limit, cursor, sort, now, owner }: ListOptions): Promise<SessionPage> {
    const position = cursor === undefined ? undefined : decodeCursor(cursor);
    const descending = sort !== 'expiry';
    const order = descending ? 'desc' : 'asc';
    const digest = owner === undefined ? '' : ownerDigest(owner);
    const readShard = async (shard: ShardKeys, after: Entry | undefined, want: number) => {
      if (owner === undefined) {
        const index = descending ? shard.activity : shard.expiry;
        const from = after ? [String(after.score), after.id] : [];
        return entriesOf((await this.run(INDEX_PAGE, [index, shard.expiry], [String(now), String(want), order, ...from])) as string[]);
      }
      const index = descending ? shard.ownerActivity : shard.ownerExpiry;
      const from = after ? [ownerIndexMember(digest, after.score, after.id)] : [];
      return entriesOf((await this.run(OWNER_PAGE, [index, shard.expiry], [digest, String(now), String(want), order, ...from])) as string[]);
    };
    const merged = await this.firstOfShards(limit + 1, position, descending ? (a, b) => compareEntries(b, a) : compareEntries, readShard);
    const page = merged.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = merged.length > limit && last ? encodeCursor(last) : null;
    const sessions = await Promise.all(page.map(async ({ id }) => [id, await this.redis.hmGet(this.layout.shardFor(id).session(id), SESSION_FIELDS)] as const));
    return { sessions: sessions.filter(([, [, , e]]) => e && Number(e) > now).map(([id, fields]) => toSummary(id, fields)), nextCursor };
  }

  /**
   * The first `want` entries after `position`, in `order`, of all shards together. Each shard is first asked
   * for a small share (twice its part of an even spread), then only the shards whose share ended before the
   * `want`-th entry of the merge are asked for more, from where they stopped: a page reads a few entries per
   * shard instead of `want` from each of the 48.
   */
  private async firstOfShards(
    want: number,
    position: Entry | undefined,
    order: (a: Entry, b: Entry) => number,
    readShard: (shard: ShardKeys, after: Entry | undefined, want: number) => Promise<Entry[]>,
  ): Promise<Entry[]> {
    const share = Math.ceil((2 * want) / SHARD_COUNT) + 1;
    const read = await Promise.all(this.layout.shards.map(async (shard) => ({ shard, entries: await readShard(shard, position, share), more: true })));
    for (const shard of read) shard.more = shard.entries.length === share;
    for (;;) {
      const merged = read.flatMap(({ entries }) => entries).sort(order);
      const boundary = merged.length >= want ? merged[want - 1] : undefined;
      // A shard with more to give matters only while its last entry read comes before the boundary.
      const pending = read.filter(({ more, entries }) => more && (boundary === undefined || order(entries.at(-1)!, boundary) < 0));
      if (pending.length === 0) return merged.slice(0, want);
      await Promise.all(
        pending.map(async (shard) => {
          const next = await readShard(shard.shard, shard.entries.at(-1), want);
          shard.entries.push(...next);
          shard.more = next.length === want;
        }),
      );
    }
  }

  async count(now: number): Promise<number> {
    const counts = await Promise.all(this.layout.shards.map((shard) => this.redis.zCount(shard.expiry, `(${now}`, '+inf')));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /**
   * Counts every shard's expired sessions at once, shares `batchSize` evenly among the shards that have some
   * (what a share leaves unused goes to the others, starting one shard further each call), then reads and
   * removes each share: three round trips whatever the number of shards. A short batch means nothing expired
   * is left, unless another process purged some of the same ids first.
   */
  async purgeExpired(now: number, batchSize: number): Promise<RemovedSession[]> {
    if (batchSize < 1) return [];
    const expired = await Promise.all(this.layout.shards.map((shard) => this.redis.zCount(shard.expiry, '-inf', String(now))));
    // Even shares first, so one call works on every primary of a cluster at once; then what is left, in turn.
    const shares = new Map<ShardKeys, number>();
    for (let left = batchSize, round = 0; left > 0 && round < 2; round++) {
      const takers = expired.filter((count, shard) => count > (shares.get(this.layout.shards[shard]!) ?? 0)).length;
      if (takers === 0) break;
      const even = Math.ceil(left / takers);
      for (let i = 0; i < SHARD_COUNT && left > 0; i++) {
        const shard = (this.purgeShard + i) % SHARD_COUNT;
        const keys = this.layout.shards[shard]!;
        const taken = shares.get(keys) ?? 0;
        const more = Math.min(expired[shard]! - taken, round === 0 ? even : left, left);
        if (more > 0) shares.set(keys, taken + more);
        left -= Math.max(more, 0);
      }
    }
    this.purgeShard = (this.purgeShard + 1) % SHARD_COUNT;
    return this.removedInShards(
      [...shares].map(async ([shard, share]) => {
        const ids = await this.redis.zRangeWithScores(shard.expiry, '-inf', String(now), { BY: 'SCORE', LIMIT: { offset: 0, count: share } });
        return ids.length === 0 ? [] : this.removeIds(shard, 'expired', now, ids.map(({ value }) => value));
      }),
    );
  }

  /**
   * The contract passes no `now`, so live means unexpired by this process's clock, the one callers take `now`
   * from. Counting spans the shards, so evictors take turns on a lease: two never both remove one excess.
   */
  async evictBeyond(maxCount: number, now: number, batchSize: number): Promise<RemovedSession[]> {
    if (batchSize < 1) return [];
    return this.underLease(this.layout.evictionLease(), 'the cap on live sessions (SESSION_MAX_COUNT)', async () => {
      const excess = Math.min((await this.count(now)) - maxCount, batchSize);
      if (excess < 1) return [];
      const nearest = await Promise.all(
        this.layout.shards.map(async (shard) =>
          (await this.redis.zRangeWithScores(shard.expiry, `(${now}`, '+inf', { BY: 'SCORE', LIMIT: { offset: 0, count: excess } })).map(({ value, score }) => ({ id: value, score, shard })),
        ),
      );
      const victims = nearest.flat().sort(compareEntries).slice(0, excess);
      const removed = await this.removeGrouped(victims, 'live', now);
      // In the order of expiry, as one store's evictions have always come.
      const rank = new Map(victims.map(({ id }, i) => [id, i]));
      return removed.sort((a, b) => rank.get(a.id)! - rank.get(b.id)!);
    });
  }

  /**
   * Each shard's part of the owner's expiry index, in batches of REMOVAL_BATCH ids each removed by one
   * script; the kept sessions are read again each time. Shards are ended one after another.
   */
  async endOwnerSessions(owner: string, now: number, except: readonly string[]): Promise<string[]> {
    const digest = ownerDigest(owner);
    const kept = new Set(except);
    const ended: string[] = [];
    let failure: { cause: unknown } | undefined;
    for (const shard of this.layout.shards) {
      try {
        for (;;) {
          const read = entriesOf((await this.run(OWNER_PAGE, [shard.ownerExpiry, shard.expiry], [digest, String(now), String(REMOVAL_BATCH + kept.size), 'asc'])) as string[]);
          const ids = read.map(({ id }) => id).filter((id) => !kept.has(id));
          if (ids.length > 0) ended.push(...(await this.removeIds(shard, 'live', now, ids)).map(({ id }) => id));
          if (read.length < REMOVAL_BATCH + kept.size || ids.length === 0) break;
        }
      } catch (cause) {
        // The other shards are still ended (a signed-out user should be as signed out as Redis allows).
        failure ??= { cause };
      }
    }
    if (failure) throw ended.length === 0 ? failure.cause : new PartialRemovalError(ended, failure.cause);
    return ended;
  }

  /**
   * Removes every indexed session, shard by shard, in atomic batches, so a session created meanwhile is
   * either removed whole or kept whole — never left without its index entries. The index outlives each
   * hash's native expiry, so it names every session there is.
   */
  async destroyAll(): Promise<number> {
    let removed = 0;
    for (const shard of this.layout.shards) {
      for (;;) {
        const ids = await this.redis.zRangeWithScores(shard.expiry, '-inf', '+inf', { BY: 'SCORE', LIMIT: { offset: 0, count: REMOVAL_BATCH } });
        if (ids.length === 0) break;
        removed += (await this.removeIds(shard, 'any', 0, ids.map(({ value }) => value))).length;
      }
    }
    return removed;
  }

  async increment(id: string, now: number, rule: CounterRule): Promise<CounterState> {
    const shard = this.layout.shardFor(id);
    const [count, expiresAt] = (await this.run(INCREMENT, [shard.expiry, shard.activity, shard.session(id)], [
      id, String(now), String(rule.windowMs), String(rule.limit), String(rule.holdMs), String(this.expiryGraceMs),
    ])) as [number, string];
    return { count: Number(count), expiresAt: Number(expiresAt) };
  }

  /** Keys under `<prefix><name>:`, on the same client. */
  withNamespace(name: string): RedisStore {
    assertNamespaceName(name);
    return new RedisStore({
      client: this.client,
      prefix: `${this.layout.prefix}${name}:`,
      expiryGraceMs: this.expiryGraceMs,
      location: this.location,
      onStepFailure: this.onStepFailure,
    });
  }

  /** The event log beside these sessions: a stream at `<prefix>_events` and per-minute tally hashes (redis-layout.ts). */
  openEventLog(retentionMs: number): RedisEventLog {
    return new RedisEventLog({ client: this.client as RedisStoreClient, key: this.layout.eventStream(), tallyPrefix: this.layout.eventTallyPrefix(), retentionMs });
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Once: a cluster client closed a second time reopens connections that then keep the process alive. */
  async close(): Promise<void> {
    if (!this.ownsClient || this.closed) return;
    this.closed = true;
    if (this.redis.isOpen) await this.redis.close();
    // A cluster or Sentinel client whose start failed may still be trying (a timer, a connect loop).
    else if (isCluster(this.client) || isSentinel(this.client)) {
      try {
        (this.client as { destroy?: () => void }).destroy?.();
      } catch {
        // Nothing was open.
      }
    }
  }

  /**
   * Resolves when the client is ready, rejects with the first connection error (a cluster or Sentinel client:
   * when its connect() fails); reconnecting goes on either way.
   */
  private connectOrFail(): Promise<void> {
    if (isCluster(this.client) || isSentinel(this.client)) {
      return withinTime(this.redis.connect(), 2 * CONNECT_TIMEOUT_MS, `Redis (${this.location}) did not answer within ${2 * CONNECT_TIMEOUT_MS} ms`);
    }
    return new Promise((resolve, reject) => {
      const onReady = () => {
        this.redis.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        this.redis.off('ready', onReady);
        reject(err);
      };
      this.redis.once('ready', onReady).once('error', onError);
      // Its outcome arrives through the events above; connect() itself only settles once Redis answers.
      if (!this.redis.isOpen) this.redis.connect().catch(() => {});
    });
  }

  /** ARGV of CREATE and INSERT (see writeSession in redis-scripts.ts). */
  private creationArgs(id: string, record: SessionRecord): string[] {
    const { createdAt, lastSeenAt, expiresAt, owner, device } = record;
    return [
      id, String(createdAt), String(lastSeenAt), String(expiresAt), dataJsonOf(record), String(expiresAt + this.expiryGraceMs),
      owner ?? '', owner === undefined ? '' : ownerDigest(owner), device ? JSON.stringify(device) : '',
    ];
  }

  /**
   * The owner's least recently used live sessions beyond most - 1 (not counting `id`, just created), removed;
   * run under the owner's lease. An expired session neither counts nor is evicted: the sweeper logs it.
   */
  private async evictOwnerBeyond(digest: string, most: number, now: number, id: string): Promise<RemovedSession[]> {
    const pages = await Promise.all(
      this.layout.shards.map(async (shard) => {
        const entries = entriesOf((await this.run(OWNER_PAGE, [shard.ownerActivity, shard.expiry], [digest, String(now), String(2 ** 31 - 1), 'asc'])) as string[]);
        return entries.filter((entry) => entry.id !== id).map((entry) => ({ ...entry, shard }));
      }),
    );
    const others = pages.flat().sort(compareEntries);
    return this.removeGrouped(others.slice(0, Math.max(0, others.length - most + 1)), 'live', now);
  }

  /** removeIds, shard by shard, for ids of several shards. */
  private async removeGrouped(entries: readonly { id: string; shard: ShardKeys }[], mode: 'live' | 'expired', now: number): Promise<RemovedSession[]> {
    const byShard = new Map<ShardKeys, string[]>();
    for (const { id, shard } of entries) byShard.set(shard, [...(byShard.get(shard) ?? []), id]);
    return this.removedInShards([...byShard].map(([shard, ids]) => this.removeIds(shard, mode, now, ids)));
  }

  /**
   * The sessions that removals in several shards (each an atomic script) removed. One shard failing does not
   * hide what the others removed: those are returned, to be reported once, and the failure goes to
   * onStepFailure; the failed shard's sessions are still there for the next call. Rejects only when a
   * shard failed and nothing was removed.
   */
  private async removedInShards(removals: readonly Promise<RemovedSession[]>[]): Promise<RemovedSession[]> {
    const settled = await Promise.allSettled(removals);
    const removed = settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? outcome.value : []));
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed && removed.length === 0) throw failed.reason;
    if (failed) this.onStepFailure(failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason)));
    return removed;
  }

  /** REMOVE_IDS in one shard: the ids whose expiry is, by `mode`, before `now` or after it (or any), each returned once. */
  private async removeIds(shard: ShardKeys, mode: 'live' | 'expired' | 'any', now: number, ids: readonly string[]): Promise<RemovedSession[]> {
    const pairs = (await this.run(REMOVE_IDS, shard.scriptKeys(ids), [mode, String(now), ...ids])) as string[];
    const removed: RemovedSession[] = [];
    for (let i = 0; i < pairs.length; i += 2) removed.push(pairs[i + 1] ? { id: pairs[i]!, owner: pairs[i + 1] } : { id: pairs[i]! });
    return removed;
  }

  private underLease<T>(key: string, purpose: string, step: () => Promise<T>): Promise<T> {
    return underLease(
      {
        set: (k, value, options) => this.redis.set(k, value, options),
        // The step's outcome (evictions to report) outweighs a lost release: the lease lapses by itself.
        release: (k, token) => this.run(RELEASE_LEASE, [k], [token]).catch((err: unknown) => this.onStepFailure(err instanceof Error ? err : new Error(String(err)))),
      },
      key,
      purpose,
      step,
    );
  }

  /** EVALSHA, falling back to EVAL (which caches the script again) after a Redis restart, a failover or SCRIPT FLUSH. */
  private async run(lua: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.redis.evalSha(lua.sha, { keys, arguments: args });
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.redis.eval(lua.text, { keys, arguments: args });
    }
  }
}

/** id, score, id, score… as a shard script returns them. */
function entriesOf(flat: readonly string[]): Entry[] {
  const entries: Entry[] = [];
  for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i]!, score: Number(flat[i + 1]) });
  return entries;
}

/** The order every index keeps: by score, equal scores by id in byte order (ids are ASCII). */
function compareEntries(a: Entry, b: Entry): number {
  return a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function isCluster(client: AnyRedisClient): boolean {
  return 'getSlotMaster' in client;
}

function isSentinel(client: AnyRedisClient): boolean {
  return 'getMasterNode' in client;
}

function toSummary(id: string, [c, l, e, d, o, v]: (string | null)[]): SessionSummary {
  return summaryOf(id, withIdentity({ data: JSON.parse(d!), createdAt: Number(c), lastSeenAt: Number(l), expiresAt: Number(e) }, o, v));
}

/** A record with the owner (field o) and device (field v, JSON) of its hash, when it has them. */
function withIdentity(record: SessionRecord, owner: string | null | undefined, device: string | null | undefined): SessionRecord {
  if (owner) record.owner = owner;
  if (device) record.device = JSON.parse(device) as DeviceFacts;
  return record;
}
