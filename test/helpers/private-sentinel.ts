/**
 * A Sentinel-watched Redis of the test's own: a primary, one replica and
 * three sentinels on free ports of 127.0.0.1, without persistence, so a test
 * can SIGKILL the primary and watch the sentinels promote the replica,
 * without touching the shared Redis other tests use. A 1 s down-after keeps
 * that failover to a few seconds.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alive, ask, field, freePorts, makeRoot, spawnServer, stopAll, until, untilAnswering } from './redis-processes.ts';

const NAME = 'sessionkeeper-test';
const SENTINEL_COUNT = 3;
const READY_TIMEOUT_MS = 20_000;

export interface PrivateSentinel {
  /** As REDIS_SENTINELS takes them: "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" */
  sentinels: string;
  sentinelRootNodes: { host: string; port: number }[];
  /** The monitored primary's name. */
  name: string;
  /** host:port of the primary the sentinels name now. */
  primary(): Promise<string>;
  /** SIGKILL the current primary; resolves with its address. */
  killPrimary(): Promise<string>;
  /** Resolves once the sentinels name a new primary that answers PING and reports role:master. */
  untilFailedOver(previous: string, timeoutMs?: number): Promise<string>;
  /** Deletes every key on the current primary. */
  flush(): Promise<void>;
  /** Kills all processes, removes the temp dir. */
  stop(): Promise<void>;
}

export async function startPrivateSentinel(): Promise<PrivateSentinel> {
  const root = await makeRoot('sentinel');
  const [primaryPort, replicaPort, ...sentinelPorts] = await freePorts(2 + SENTINEL_COUNT);
  const sentinelAddresses = sentinelPorts.map((port) => `127.0.0.1:${port}`);
  const servers = new Map<string, ChildProcess>();

  const launch = async (port: number, args: string[]) => {
    const address = `127.0.0.1:${port}`;
    const log = join(root, `${port}.log`);
    const child = spawnServer([...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', root, '--logfile', log]);
    servers.set(address, child);
    await untilAnswering(address, child, log);
  };
  const liveSentinels = () => sentinelAddresses.filter((a) => servers.has(a) && alive(servers.get(a)!));
  const namedBy = async (sentinel: string) => {
    const [host, port] = (await ask(sentinel, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME])) as [string, string];
    return `${host}:${port}`;
  };
  const primary = async () => {
    for (const sentinel of liveSentinels()) {
      try {
        return await namedBy(sentinel);
      } catch {
        // Any sentinel will do; the next one may answer.
      }
    }
    throw new Error('no sentinel of the private setup answers');
  };

  const stop = () => stopAll(servers.values(), root);

  try {
    // Replicas sync at once instead of after the default 5 s wait for more replicas to join.
    const data = ['--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0'];
    await launch(primaryPort, data);
    await launch(replicaPort, [...data, '--replicaof', '127.0.0.1', String(primaryPort)]);
    // Sentinels learn replicas from the primary's INFO, which they poll only every 10 s until told
    // otherwise below: the replica must be listed there before the first sentinel starts.
    await until(
      'the private replica in sync',
      async () => {
        const replica = await ask(`127.0.0.1:${replicaPort}`, ['INFO', 'replication']);
        if (field(replica, 'master_link_status') !== 'up') return `master_link_status:${field(replica, 'master_link_status')}`;
        const listed = field(await ask(`127.0.0.1:${primaryPort}`, ['INFO', 'replication']), 'slave0');
        return listed?.includes('state=online') ? undefined : `the primary lists slave0:${listed}`;
      },
      READY_TIMEOUT_MS,
    );

    await Promise.all(
      sentinelPorts.map(async (port) => {
        // Sentinels rewrite their config file to remember what they learn, so each needs its own writable one.
        const config = join(root, `sentinel-${port}.conf`);
        await writeFile(
          config,
          [
            `sentinel monitor ${NAME} 127.0.0.1 ${primaryPort} 2`,
            `sentinel down-after-milliseconds ${NAME} 1000`,
            // Also the wait before a failed election is retried (twice this), so short but not too short.
            `sentinel failover-timeout ${NAME} 3000`,
            `sentinel parallel-syncs ${NAME} 1`,
            '',
          ].join('\n'),
        );
        await launch(port, [config, '--sentinel']);
        // Sentinels greet each other (hello), poll INFO and ask each other whether the primary is down
        // once a second or rarer; every 200 ms they find each other at start, and agree a failover, sooner.
        await ask(`127.0.0.1:${port}`, ['SENTINEL', 'DEBUG', 'publish-period', '200', 'info-period', '200', 'ask-period', '200']);
      }),
    );
    await until(
      'the private sentinels agreed',
      async () => {
        for (const sentinel of sentinelAddresses) {
          const named = await namedBy(sentinel);
          if (named !== `127.0.0.1:${primaryPort}`) return `${sentinel} names ${named}`;
          const replicas = (await ask(sentinel, ['SENTINEL', 'REPLICAS', NAME])) as unknown[];
          if (replicas.length !== 1) return `${sentinel} knows ${replicas.length} replicas`;
          // Sentinels find each other through hello messages on the primary.
          const others = (await ask(sentinel, ['SENTINEL', 'SENTINELS', NAME])) as unknown[];
          if (others.length !== SENTINEL_COUNT - 1) return `${sentinel} knows ${others.length} other sentinels`;
        }
        return undefined;
      },
      READY_TIMEOUT_MS,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    sentinels: sentinelAddresses.join(','),
    sentinelRootNodes: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    name: NAME,
    primary,
    async killPrimary() {
      const address = await primary();
      const child = servers.get(address);
      if (!child || !alive(child)) throw new Error(`the primary ${address} is not a live server of this setup`);
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      return address;
    },
    async untilFailedOver(previous, timeoutMs = 20_000) {
      let promoted = '';
      await until(
        `the private sentinels failed over from ${previous}`,
        async () => {
          // All of them, not just one: a client may ask any sentinel and must not be sent to the dead primary.
          const named = new Set(await Promise.all(liveSentinels().map(namedBy)));
          if (named.size !== 1) return `the sentinels disagree: ${[...named].join(', ')}`;
          [promoted] = named;
          if (promoted === previous) return `the sentinels still name ${previous}`;
          const role = field(await ask(promoted, ['INFO', 'replication']), 'role');
          return role === 'master' ? undefined : `${promoted} reports role:${role}`;
        },
        timeoutMs,
      );
      return promoted;
    },
    async flush() {
      await ask(await primary(), ['FLUSHALL']);
    },
    stop,
  };
}
