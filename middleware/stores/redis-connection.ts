/**
 * The Redis store's connection: a single Redis by URL, a Redis Cluster by its
 * seed nodes, or the primary that Redis Sentinels name, each with node-redis's
 * own client for it. Every one fails fast while disconnected (no offline
 * queue: a request gets a 503 at once rather than waiting) and reconnects by
 * itself with capped backoff; the cluster client finds the new primaries after
 * a failover, and under Sentinel a plain client follows the primary the
 * Sentinels name (redis-sentinel-primary.ts).
 */
import { createClient, createCluster, ErrorReply, type RedisClientOptions, type RedisClientType, type RespVersions } from 'redis';
import { sentinelPrimaryClient } from './redis-sentinel-primary.ts';
import { redactUrl } from '../config.ts';

/**
 * Any node-redis v5 client, as `createClient()` returns it: RESP 2 or 3, any modules, functions or scripts
 * (the store uses none of them). A `typeMapping` is refused, since the store reads replies as strings and numbers.
 */
export type RedisStoreClient = RedisClientType<any, any, any, RespVersions>;
/**
 * A node-redis v5 cluster client, as `createCluster()` returns it. Described by what the store relies on:
 * node-redis's generic cluster type accepts only its own exact instantiation, so no wider type fits every client.
 */
export interface RedisStoreCluster {
  getSlotMaster(slot: number): unknown;
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'error' | 'node-error', listener: (err: Error) => void): unknown;
}
/** A node-redis v5 Sentinel client, as `createSentinel()` returns it (described as RedisStoreCluster is). */
export interface RedisStoreSentinel {
  getMasterNode(): unknown;
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'error' | 'node-error', listener: (err: Error) => void): unknown;
}
/** What the store can run on: a client, a cluster client or a Sentinel client. */
export type AnyRedisClient = RedisStoreClient | RedisStoreCluster | RedisStoreSentinel;

/** Where to connect: exactly one of the three. Addresses are `host:port`. */
export interface RedisTarget {
  url?: string;
  clusterNodes?: readonly string[];
  sentinels?: readonly string[];
  /** The name of the primary the Sentinels watch (`sentinel monitor <name> …`). */
  sentinelName?: string;
  /** User, password and TLS for cluster nodes and for the Sentinels' primary and replicas, from a `redis://` or `rediss://` URL. */
  credentialsUrl?: string;
}

const CONNECT_TIMEOUT_MS = 2_000;
const MAX_RECONNECT_DELAY_MS = 2_000;

const socket = {
  connectTimeout: CONNECT_TIMEOUT_MS,
  reconnectStrategy: (retries: number) => Math.min((retries + 1) * 100, MAX_RECONNECT_DELAY_MS),
};

/** A client of the store's own for `target`, not yet connected, and where it points (never a password). */
export function createOwnClient(target: RedisTarget, onBackgroundError: (err: Error) => void): { client: AnyRedisClient; location: string } {
  const create = () => {
    const built = clientFor(target);
    // Without a listener, node-redis's 'error' events would crash the process.
    built.client.on('error', onBackgroundError);
    return built;
  };
  const { client, location } = create();
  if (!target.clusterNodes?.length && !target.sentinels?.length) return { client, location };
  return { client: startingOverAfterFailedConnect(client as RedisStoreCluster | RedisStoreSentinel, () => create().client as RedisStoreCluster | RedisStoreSentinel), location };
}

/** The fewest ms between two fresh starts of a cluster or Sentinel client whose connect() failed. */
const RESTART_MS = 1_000;

/**
 * A cluster or Sentinel client that starts over, on use, after its connect() failed. A single Redis's client
 * keeps reconnecting by itself; node-redis's cluster and Sentinel clients give up when none of their seed nodes
 * (or Sentinels) answers at connect(), and a failed Sentinel client cannot even connect() again. Without this, a
 * store started while its cluster or its Sentinels were down would answer 503 until the process restarts. So a
 * command finding the client failed builds a new one (`create`) and connects it first: one attempt at a time, at
 * most one per RESTART_MS; meanwhile commands fail at once with the last attempt's error (a 503). A command
 * during the very first connect() goes to the client as it is, which fails it at once too.
 */
function startingOverAfterFailedConnect<T extends RedisStoreCluster | RedisStoreSentinel>(first: T, create: () => T): T {
  let current = first;
  let failure: { error: unknown; at: number } | undefined;
  let connecting: Promise<void> | undefined;
  let closing = false;
  const connect = (): Promise<void> => {
    connecting ??= current
      .connect()
      .then(
        () => {
          failure = undefined;
        },
        (error: unknown) => {
          failure = { error, at: Date.now() };
          throw error;
        },
      )
      .finally(() => {
        connecting = undefined;
      });
    return connecting;
  };
  const startOver = async (): Promise<void> => {
    if (!failure || closing) return;
    if (connecting) throw new Error('Redis: still connecting after a failed start');
    if (Date.now() - failure.at < RESTART_MS) throw failure.error;
    discard(current);
    current = create();
    await connect();
  };
  return new Proxy(first, {
    get(_, property) {
      const value = Reflect.get(current, property, current);
      if (typeof value !== 'function') return value;
      if (property === 'connect') return connect;
      if (property === 'close' || property === 'destroy') {
        return async (...args: unknown[]) => {
          closing = true;
          await connecting?.catch(() => undefined);
          // A client whose connect() failed holds nothing worth a graceful close.
          if (failure) return discard(current);
          return (Reflect.get(current, property, current) as (...a: unknown[]) => unknown).apply(current, args);
        };
      }
      if (typeof property !== 'string' || !STORE_COMMANDS.has(property)) return (value as (...a: unknown[]) => unknown).bind(current);
      return async (...args: unknown[]) => {
        await startOver();
        return (Reflect.get(current, property, current) as (...a: unknown[]) => unknown).apply(current, args);
      };
    },
    has(_, property) {
      return property in current;
    },
  });
}

/** Frees what a client that failed to connect may still hold (a Sentinel client keeps a scan timer). */
function discard(client: RedisStoreCluster | RedisStoreSentinel): void {
  try {
    const destroyed = (client as { destroy?: () => unknown }).destroy?.();
    if (destroyed instanceof Promise) destroyed.catch(() => undefined);
  } catch {
    // Nothing was open.
  }
}

function clientFor(target: RedisTarget): { client: AnyRedisClient; location: string } {
  const credentials = credentialsOf(target.credentialsUrl);
  if (target.clusterNodes?.length) {
    const client = createCluster({
      rootNodes: target.clusterNodes.map((node) => ({ url: `${credentials.scheme}//${node}` })),
      defaults: { ...credentials.auth, disableOfflineQueue: true, socket: { ...socket, tls: credentials.tls } },
    }) as unknown as RedisStoreCluster;
    return { client: withSlotRefresh(client), location: `redis cluster ${target.clusterNodes.join(',')}` };
  }
  if (target.sentinels?.length) {
    const client = sentinelPrimaryClient({
      name: target.sentinelName!,
      sentinels: target.sentinels.map(hostAndPort),
      primaryOptions: { ...credentials.auth, disableOfflineQueue: true, socket: { ...socket, tls: credentials.tls } } as RedisClientOptions,
      sentinelOptions: { socket },
    });
    return { client, location: `redis sentinel ${target.sentinelName} via ${target.sentinels.join(',')}` };
  }
  const client = createClient({ url: target.url, disableOfflineQueue: true, socket }) as RedisStoreClient;
  return { client, location: redactUrl(target.url!) };
}

/** The fewest ms between two slot refreshes: one CLUSTER SLOTS per refresh, however many requests fail meanwhile. */
const SLOT_REFRESH_MS = 250;
/** The commands the store sends (redis-store.ts): a failure of any of them may mean a primary is gone. */
const STORE_COMMANDS = new Set(['evalSha', 'eval', 'hmGet', 'zCount', 'zRangeWithScores', 'set', 'ping']);

/**
 * A cluster client that re-reads the cluster's slots after a command fails or a node's connection errs. node-redis
 * re-reads them only on a MOVED or ASK reply, which a primary that died never sends: without this its slots stay
 * assigned to the dead node and every command for them fails until a restart (node-redis issue #2806). The refresh
 * is node-redis's own rediscovery (`_slots.rediscover`, public in its types but not documented), started from the
 * first seed node and falling back to the others; at most one every SLOT_REFRESH_MS. Applied to a caller's cluster
 * client too (RedisStore), since the store cannot recover without it.
 */
export function withSlotRefresh(cluster: RedisStoreCluster): RedisStoreCluster {
  const slots = (cluster as unknown as { _slots?: { rediscover(startWith: { options: unknown }): Promise<void> } })._slots;
  const seed = (cluster as { _options?: { rootNodes?: unknown[] } })._options?.rootNodes?.[0];
  if (!slots || !seed || REFRESHING.has(cluster)) return cluster;
  let last = 0;
  let closing = false;
  let running: Promise<void> = Promise.resolve();
  const refresh = () => {
    // A rediscovery during or after close() would open node connections that nothing closes again.
    if (closing || Date.now() - last < SLOT_REFRESH_MS || !cluster.isOpen) return;
    last = Date.now();
    running = slots.rediscover({ options: seed }).catch(() => undefined);
  };
  cluster.on('node-error', refresh);
  const refreshing = new Proxy(cluster, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if ((property === 'close' || property === 'destroy') && typeof value === 'function') {
        return async (...args: unknown[]) => {
          closing = true;
          await running;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      if (typeof property !== 'string' || !STORE_COMMANDS.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        (value as unknown as (...a: unknown[]) => Promise<unknown>).apply(target, args).catch((err: unknown) => {
          if (meansTopologyChanged(err)) refresh();
          throw err;
        });
    },
  });
  REFRESHING.add(refreshing);
  return refreshing;
}
const REFRESHING = new WeakSet<object>();

/**
 * A connection error (the node's client is offline or closed, a socket failed) or a cluster that is down
 * or moving slots: not an answer of a healthy node to the command itself (NOSCRIPT, WRONGTYPE, a script's error).
 */
function meansTopologyChanged(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof ErrorReply) return /^(CLUSTERDOWN|TRYAGAIN|READONLY|LOADING|MASTERDOWN)\b/.test(err.message);
  return true;
}

/** `host:port` (an IPv6 host in brackets) as node-redis takes it. */
export function hostAndPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!match) throw new TypeError(`Redis address ${JSON.stringify(address)} is not valid: expected host:port`);
  return { host: match[1] ?? match[2]!, port: Number(match[3]) };
}

function credentialsOf(url: string | undefined): { scheme: string; auth: { username?: string; password?: string }; tls: boolean } {
  if (!url) return { scheme: 'redis:', auth: {}, tls: false };
  const parsed = new URL(url);
  const auth: { username?: string; password?: string } = {};
  if (parsed.username) auth.username = decodeURIComponent(parsed.username);
  if (parsed.password) auth.password = decodeURIComponent(parsed.password);
  return { scheme: parsed.protocol, auth, tls: parsed.protocol === 'rediss:' };
}
