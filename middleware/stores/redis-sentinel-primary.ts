/**
 * The Redis store's own connection under Sentinel: node-redis's Sentinel
 * client finds the primary and reports each failover, and the store's
 * commands go to that primary through a plain client, which fails fast while
 * the primary is gone (no offline queue), as the store's clients do on a
 * single Redis and on a cluster.
 *
 * Why not send the commands through the Sentinel client itself: it holds a
 * command while the primary is gone and sends it to the new primary once
 * there is one, however late. The store's caller has long answered that
 * request with 503 by then, and the visitor has moved on: a write sent after
 * the failover, newer, is then overwritten by the held one (seen in the
 * failover test). A command that fails fast is either applied before the
 * primary died or never.
 */
import { createClient, createSentinel, type RedisClientOptions } from 'redis';
import type { RedisStoreClient, RedisStoreSentinel } from './redis-connection.ts';

/** What a Sentinel client reports when the Sentinels name another primary. */
interface TopologyChange {
  type: string;
  node?: { host: string; port: number };
}

/** The few parts of node-redis's Sentinel client used here. */
interface SentinelClient {
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  getMasterNode(): { host: string; port: number } | undefined;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  on(event: 'topology-change', listener: (change: TopologyChange) => void): unknown;
}

export interface SentinelPrimaryOptions {
  sentinels: { host: string; port: number }[];
  /** The name the Sentinels monitor the primary under. */
  name: string;
  /** Options of the client to the primary (credentials, TLS, socket), and of the Sentinel client's own. */
  primaryOptions: RedisClientOptions;
  sentinelOptions: RedisClientOptions;
}

/**
 * A client to the primary the Sentinels name, following it through failovers. It looks to the store like a
 * Sentinel client (`getMasterNode`) and sends its commands like a plain one.
 */
export function sentinelPrimaryClient(options: SentinelPrimaryOptions): RedisStoreSentinel {
  const sentinel = createSentinel({
    name: options.name,
    sentinelRootNodes: options.sentinels,
    nodeClientOptions: options.primaryOptions,
    sentinelClientOptions: options.sentinelOptions,
    // No command goes through it, so this bounds only its connect(): one round of the Sentinels, then a failure
    // (which sentinelPrimaryClient's caller retries), not sixteen rounds printed to stdout one second apart.
    maxCommandRediscovers: 0,
  }) as unknown as SentinelClient;
  const errorListeners: ((err: Error) => void)[] = [];
  const reportError = (err: unknown) => {
    for (const listener of errorListeners) listener(err instanceof Error ? err : new Error(String(err)));
  };
  sentinel.on('error', reportError);

  /** The client of the primary named last; undefined before the first connect. */
  let primary: RedisStoreClient | undefined;
  /** Bumped by every change of primary: a connection to a primary named earlier is discarded. */
  let generation = 0;
  let closed = false;

  const follow = async (node: { host: string; port: number }): Promise<void> => {
    const mine = ++generation;
    const next = createClient({ ...options.primaryOptions, socket: { ...options.primaryOptions.socket, host: node.host, port: node.port } } as RedisClientOptions) as RedisStoreClient;
    next.on('error', reportError);
    await next.connect();
    if (mine !== generation || closed) {
      next.destroy();
      return;
    }
    const previous = primary;
    primary = next;
    previous?.destroy();
  };
  sentinel.on('topology-change', (change) => {
    if (change.type === 'MASTER_CHANGE' && change.node && primary) follow(change.node).catch(reportError);
  });

  const connect = async () => {
    await sentinel.connect();
    const node = sentinel.getMasterNode();
    if (!node) throw new Error(`the Sentinels name no primary for ${options.name}`);
    await follow(node);
  };
  const close = async () => {
    closed = true;
    generation++;
    const current = primary;
    primary = undefined;
    await Promise.allSettled([current?.close(), sentinel.close()]);
  };
  const destroy = () => {
    closed = true;
    generation++;
    primary?.destroy();
    primary = undefined;
    try {
      sentinel.destroy();
    } catch {
      // It never opened.
    }
  };

  const own: Record<string | symbol, unknown> = {
    connect,
    close,
    destroy,
    getMasterNode: () => sentinel.getMasterNode(),
    on: (event: string, listener: (err: Error) => void) => {
      if (event === 'error') errorListeners.push(listener);
      return client;
    },
  };
  const client = new Proxy(own, {
    get(target, property) {
      if (property in target) return target[property];
      if (property === 'isOpen' || property === 'isReady') return primary?.[property] ?? false;
      if (!primary) {
        // Before the first connect, or after close: every command fails at once, as a closed client's would.
        const notConnected = () => Promise.reject(new Error(`not connected to the primary ${options.name}`));
        // Not `then`: the client is no promise.
        return typeof property === 'string' && property !== 'then' ? notConnected : undefined;
      }
      const value = Reflect.get(primary, property, primary);
      return typeof value === 'function' ? value.bind(primary) : value;
    },
    has(target, property) {
      return property in target || (primary !== undefined && property in primary);
    },
  });
  return client as unknown as RedisStoreSentinel;
}
