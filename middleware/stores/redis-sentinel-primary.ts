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
import { createClient, createSentinel, ErrorReply, type RedisClientOptions } from 'redis';
import type { RedisStoreClient, RedisStoreSentinel } from './redis-connection.ts';
import { withinTime } from './time-limit.ts';

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

/** How long connect() may take: the Sentinels' answer, then the primary's. Beyond it, the start has failed. */
const CONNECT_LIMIT_MS = 5_000;
/** How long a primary that was replaced may finish the commands it was sent before it is cut off. */
const RETIRE_LIMIT_MS = 1_000;
/** The fewest ms between two checks of the Sentinels' primary after a command failed. */
const RECHECK_MS = 250;

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
    // No command goes through it, so it needs no connection to the primary of its own: with one, its connect()
    // waits for that connection for ever when the primary accepts and never answers, and so does its destroy().
    // It then names each primary in a MASTER_CHANGE event (getMasterNode() stays undefined).
    masterPoolSize: 0,
    // Bounds its connect(): one round of the Sentinels, then a failure (which sentinelPrimaryClient's caller
    // retries), not sixteen rounds printed to stdout one second apart.
    maxCommandRediscovers: 0,
  }) as unknown as SentinelClient;
  const errorListeners: ((err: Error) => void)[] = [];
  const reportError = (err: unknown) => {
    for (const listener of errorListeners) listener(err instanceof Error ? err : new Error(String(err)));
  };
  sentinel.on('error', reportError);

  /** The client of the primary named last; undefined before connect() and after close(). */
  let primary: RedisStoreClient | undefined;
  let primaryNode: { host: string; port: number } | undefined;
  /** The primary the Sentinels named last. */
  let named: { host: string; port: number } | undefined;
  /** Set once the Sentinel client has connected: from then on, each primary it names is followed. */
  let started = false;
  let closed = false;
  let lastCheck = 0;

  /**
   * Points the commands at `node` at once: the Sentinels say it is the primary, and while it does not answer yet
   * the client fails fast (no offline queue) and keeps trying. The primary it replaces finishes what it was sent.
   */
  const follow = (node: { host: string; port: number }): Promise<unknown> => {
    const next = createClient({ ...options.primaryOptions, socket: { ...options.primaryOptions.socket, host: node.host, port: node.port } } as RedisClientOptions) as RedisStoreClient;
    next.on('error', reportError);
    const connected = next.connect();
    retire(primary);
    primary = next;
    primaryNode = node;
    return connected;
  };
  sentinel.on('topology-change', (change) => {
    if (change.type !== 'MASTER_CHANGE' || !change.node) return;
    named = change.node;
    // Before connect() has followed the first one, it is connect()'s to follow.
    if (!started || closed || sameNode(named, primaryNode)) return;
    follow(named).catch(reportError);
  });
  /**
   * After a command failed for want of a connection, or because its node is a replica now (READONLY): if the
   * Sentinels name another primary than the one followed, follow it. Covers a change of primary that came while
   * no one listened, such as during connect(), so that the store is never left on a node that is not the primary.
   */
  const recheck = () => {
    if (!started || closed || Date.now() - lastCheck < RECHECK_MS) return;
    lastCheck = Date.now();
    if (named && !sameNode(named, primaryNode)) follow(named).catch(reportError);
  };

  const connect = async () => {
    await withinLimit(sentinel.connect(), `the Sentinels for ${options.name}`);
    started = true;
    const node = named;
    if (!node) throw new Error(`the Sentinels name no primary for ${options.name}`);
    if (!sameNode(node, primaryNode)) await withinLimit(follow(node), `the primary ${options.name} at ${node.host}:${node.port}`);
    if (!primary?.isReady) throw new Error(`the primary ${options.name} did not answer`);
  };
  const withinLimit = (work: Promise<unknown>, what: string) => withinTime(work, CONNECT_LIMIT_MS, `${what} did not answer within ${CONNECT_LIMIT_MS} ms`);
  const close = async () => {
    closed = true;
    const current = primary;
    primary = undefined;
    primaryNode = undefined;
    await Promise.allSettled([retire(current), sentinel.close()]);
  };
  const destroy = () => {
    closed = true;
    destroyQuietly(primary);
    primary = undefined;
    primaryNode = undefined;
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
    getMasterNode: () => primaryNode,
    on: (event: string, listener: (err: Error) => void) => {
      if (event === 'error') errorListeners.push(listener);
      return client;
    },
  };
  const client = new Proxy(own, {
    get(target, property) {
      if (property in target) return target[property];
      if (property === 'isOpen' || property === 'isReady') return primary?.[property] ?? false;
      // Not `then`: the client is no promise.
      if (typeof property !== 'string' || property === 'then') return undefined;
      const current = primary;
      if (!current) return notConnected(property, options.name);
      const value = Reflect.get(current, property, current);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as unknown as (...a: unknown[]) => unknown).apply(current, args);
        // The caller handles the result; this only looks at how it failed.
        if (result instanceof Promise) result.catch((err: unknown) => mayMeanNewPrimary(err) && recheck());
        return result;
      };
    },
    has(target, property) {
      return property in target || (primary !== undefined && property in primary);
    },
  });
  return client as unknown as RedisStoreSentinel;
}

/**
 * What a command gets before connect() and after close(): it fails at once, as a closed client's would. A
 * MULTI is built synchronously and fails at exec(), so no rejected promise is ever left unhandled.
 */
function notConnected(property: string, name: string): (...args: unknown[]) => unknown {
  const failure = () => Promise.reject(new Error(`not connected to the primary ${name}`));
  if (property !== 'multi') return failure;
  const transaction: object = new Proxy({}, {
    get: (_, step) => (step === 'exec' || step === 'execAsPipeline' ? failure : step === 'then' ? undefined : () => transaction),
  });
  return () => transaction;
}

/** Lets a replaced primary's client finish what it was sent, for a moment, then cuts it off. */
async function retire(client: RedisStoreClient | undefined): Promise<void> {
  if (!client?.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, RETIRE_LIMIT_MS);
  });
  await Promise.race([client.close().catch(() => undefined), limit]);
  clearTimeout(timer);
  destroyQuietly(client);
}

function destroyQuietly(client: RedisStoreClient | undefined): void {
  if (client?.isOpen) client.destroy();
}

function sameNode(a: { host: string; port: number }, b: { host: string; port: number } | undefined): boolean {
  return b !== undefined && a.host === b.host && a.port === b.port;
}

/** A failure that a node's connection caused, or a node that is no longer the primary. */
function mayMeanNewPrimary(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof ErrorReply) return /^(READONLY|MASTERDOWN|LOADING)\b/.test(err.message);
  return true;
}
