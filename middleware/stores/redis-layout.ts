/**
 * Where the Redis store keeps what: the key names, and the shard a session id
 * falls in. One layout for a single Redis, a Sentinel-watched primary and a
 * Redis Cluster, so moving between them needs no code change.
 *
 * A Lua script on a cluster may only touch keys of one hash slot, and it must
 * name them all. So the sessions are spread over SHARD_COUNT shards chosen by
 * id, and every key of a shard carries the shard's hash tag (`{…}`): a shard's
 * session hashes, its two indexes and its owner indexes share one slot, and
 * every script works inside one shard. The tags are chosen so that their slots
 * lie evenly over the 16384 slots: a cluster whose primaries hold equal
 * contiguous ranges of slots (what `redis-cli --cluster create` makes) gets an
 * equal number of shards on each primary when that number divides 48 (2, 3, 4,
 * 6, 8, 12, 16, 24 primaries) and within one shard otherwise.
 */
import { createHash } from 'node:crypto';
import slotOf from 'cluster-key-slot';

/** Shards of every store: a fixed number, since a session's keys are named by it. */
export const SHARD_COUNT = 48;
const SLOT_COUNT = 16_384;

/**
 * The hash tag of each shard: the first of `<shard>.<n>` (n = 0, 1, …) whose slot lies in the middle half of
 * the shard's 1/48 of the slots, so primaries split at round numbers of slots still hold whole shards.
 */
const SHARD_TAGS: readonly string[] = Array.from({ length: SHARD_COUNT }, (_, shard) => {
  const width = SLOT_COUNT / SHARD_COUNT;
  const low = shard * width + width / 4;
  for (let n = 0; ; n++) {
    const tag = `${shard}.${n}`;
    const slot = slotOf(tag);
    if (slot >= low && slot < low + width / 2) return tag;
  }
});

/** The shard of a session (or counter) id: random ids spread evenly. */
export function shardOf(id: string): number {
  return createHash('sha1').update(id).digest().readUInt32BE(0) % SHARD_COUNT;
}

/** The cluster slot of a shard's keys (the figures in bench/README.md count sessions per primary by it). */
export function slotOfShard(shard: number): number {
  return slotOf(SHARD_TAGS[shard]!);
}

/**
 * The keys of one shard under a prefix. KEYS of every shard script, in this order: expiry index, activity
 * index, owner map, owner activity index, owner expiry index (see redis-scripts.ts), then session hashes.
 */
export class ShardKeys {
  /** `<prefix>{<tag>}`: the start of every key of the shard. */
  readonly base: string;
  readonly expiry: string;
  readonly activity: string;
  readonly owners: string;
  readonly ownerActivity: string;
  readonly ownerExpiry: string;

  constructor(prefix: string, readonly shard: number) {
    this.base = `${prefix}{${SHARD_TAGS[shard]}}`;
    this.expiry = `${this.base}exp`;
    this.activity = `${this.base}act`;
    this.owners = `${this.base}own`;
    this.ownerActivity = `${this.base}oact`;
    this.ownerExpiry = `${this.base}oexp`;
  }

  session(id: string): string {
    return `${this.base}s:${id}`;
  }

  /** The five index keys, then the given sessions' hashes: a shard script's KEYS. */
  scriptKeys(ids: readonly string[]): string[] {
    return [this.expiry, this.activity, this.owners, this.ownerActivity, this.ownerExpiry, ...ids.map((id) => this.session(id))];
  }
}

/** Every shard's keys under one prefix, and the few keys that belong to no shard. */
export class RedisLayout {
  readonly shards: readonly ShardKeys[];

  constructor(readonly prefix: string) {
    assertUsablePrefix(prefix);
    this.shards = Array.from({ length: SHARD_COUNT }, (_, shard) => new ShardKeys(prefix, shard));
  }

  shardFor(id: string): ShardKeys {
    return this.shards[shardOf(id)]!;
  }

  /** The lease two evictors take turns on (evictBeyond counts every shard, then removes). */
  evictionLease(): string {
    return `${this.shards[0]!.base}lease:evict`;
  }

  /** The lease of one owner's capped creations, in the shard of the owner's digest. */
  ownerLease(digest: string): string {
    return `${this.shardFor(digest).base}lease:o:${digest}`;
  }

  /**
   * The event log's stream keeps its name of earlier releases (`<prefix>_events`), and the tally hashes take
   * it as their hash tag, so the MULTI that writes both stays in one slot.
   */
  eventStream(): string {
    return `${this.prefix}_events`;
  }

  eventTallyPrefix(): string {
    return `${this.prefix}_events:{${this.prefix}_events}:`;
  }
}

/** A brace in the prefix would become (or break) the hash tag of every key. */
export function assertUsablePrefix(prefix: string): void {
  if (/[{}]/.test(prefix)) throw new TypeError(`Redis key prefix ${JSON.stringify(prefix)} is not valid: it may not contain { or }, which Redis Cluster reads as a hash tag`);
}
