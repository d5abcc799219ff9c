/**
 * A Redis Cluster of the test's own: three primaries with a replica each, on
 * free ports of 127.0.0.1, without persistence, so a test can SIGKILL a
 * primary and watch its replica take the slots over, without touching the
 * shared Redis other tests use. A 1 s node timeout keeps that failover to a
 * few seconds.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { alive, ask, field, freePorts, makeRoot, spawnServer, stopAll, until, untilAnswering } from './redis-processes.ts';

const SLOTS = 16384;
const NODE_COUNT = 6;
const READY_TIMEOUT_MS = 20_000;

export interface PrivateCluster {
  /** Seed nodes as the REDIS_CLUSTER_NODES setting takes them: "127.0.0.1:p1,127.0.0.1:p2,..." */
  nodes: string;
  /** For createCluster({ rootNodes }). */
  rootNodes: { url: string }[];
  /** host:port of the current primaries (asks the cluster, via CLUSTER NODES). */
  primaries(): Promise<string[]>;
  /** SIGKILL the primary that serves `slot`; resolves with its address once the process is gone. */
  killPrimaryOf(slot: number): Promise<string>;
  /** Resolves once every slot is served again by a live primary and cluster_state is ok on every live node (after a failover). */
  untilHealthy(timeoutMs?: number): Promise<void>;
  /** Deletes every key on every primary (FLUSHALL on each primary), for tests that want an empty cluster. */
  flush(): Promise<void>;
  /** Kills all processes, removes the temp dir. */
  stop(): Promise<void>;
}

interface ClusterNode {
  address: string;
  flags: string[];
  /** [first, last] slot ranges this node serves. */
  slots: [number, number][];
}

function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [, address, flags, , , , , , ...slots] = line.trim().split(' ');
      return {
        // "127.0.0.1:7000@17000[,hostname]" – clients only care for host:port.
        address: address.split('@')[0],
        flags: flags.split(','),
        // "[slot->-id]" entries are migrations in progress, not served slots.
        slots: slots.filter((s) => !s.startsWith('[')).map((s) => s.split('-').map(Number) as [number] | [number, number]).map(([from, to]) => [from, to ?? from] as [number, number]),
      };
    });
}

/** Primaries a node believes alive, with the slots it thinks they serve. */
function servingPrimaries(nodes: ClusterNode[]): ClusterNode[] {
  return nodes.filter((n) => n.flags.includes('master') && !n.flags.includes('fail') && !n.flags.includes('fail?'));
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const root = await makeRoot('cluster');
  // Bus ports are chosen too, not left at port + 10000, which may be taken or above 65535.
  const ports = await freePorts(NODE_COUNT * 2);
  const addresses = ports.slice(0, NODE_COUNT).map((port) => `127.0.0.1:${port}`);
  const servers = new Map<string, ChildProcess>();

  const liveAddresses = () => addresses.filter((a) => servers.has(a) && alive(servers.get(a)!));
  const topology = async () => {
    for (const address of liveAddresses()) {
      try {
        return parseClusterNodes(String(await ask(address, ['CLUSTER', 'NODES'])));
      } catch {
        // Killed or not answering yet: another node knows the topology too.
      }
    }
    throw new Error('no node of the private cluster answers');
  };
  // A primary just killed stays in the others' view until they flag it failing; it serves nothing.
  const primaries = async () => servingPrimaries(await topology()).map((n) => n.address).filter((a) => liveAddresses().includes(a));

  const stop = () => stopAll(servers.values(), root);

  try {
    await Promise.all(
      addresses.map(async (address, i) => {
        const port = ports[i];
        const dir = join(root, String(port));
        await mkdir(dir);
        const log = join(dir, 'redis.log');
        const child = spawnServer([
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--dir', dir,
          '--logfile', log,
          '--save', '',
          '--appendonly', 'no',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, 'nodes.conf'),
          '--cluster-port', String(ports[NODE_COUNT + i]),
          '--cluster-node-timeout', '1000',
          // Tests kill primaries on purpose; a replica must take over however long its link was down.
          '--cluster-replica-validity-factor', '0',
          // Replicas sync at once instead of after the default 5 s wait for more replicas to join.
          '--repl-diskless-sync-delay', '0',
        ]);
        servers.set(address, child);
        await untilAnswering(address, child, log);
      }),
    );

    try {
      // TERM=dumb: redis-cli colours an xterm's output even into a pipe, and escapes would clutter the error.
      await promisify(execFile)('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { timeout: READY_TIMEOUT_MS, env: { ...process.env, TERM: 'dumb' } });
    } catch (err) {
      const { stdout, stderr, code } = err as { stdout?: string; stderr?: string; code?: unknown };
      throw new Error(`redis-cli --cluster create failed (${code}):\n${stdout ?? ''}${stderr ?? ''}`, { cause: err });
    }

    // redis-cli returns once slots are assigned; gossip, failure detection state and replication still settle after.
    await until(
      'the private cluster ready',
      async () => {
        for (const address of addresses) {
          const info = await ask(address, ['CLUSTER', 'INFO']);
          if (field(info, 'cluster_state') !== 'ok') return `${address} cluster_state:${field(info, 'cluster_state')}`;
          if (field(info, 'cluster_slots_ok') !== String(SLOTS)) return `${address} cluster_slots_ok:${field(info, 'cluster_slots_ok')}`;
          if (field(info, 'cluster_known_nodes') !== String(NODE_COUNT)) return `${address} cluster_known_nodes:${field(info, 'cluster_known_nodes')}`;
          const replication = await ask(address, ['INFO', 'replication']);
          if (field(replication, 'role') === 'slave' && field(replication, 'master_link_status') !== 'up') return `${address} master_link_status:${field(replication, 'master_link_status')}`;
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
    nodes: addresses.join(','),
    rootNodes: addresses.map((a) => ({ url: `redis://${a}` })),
    primaries,
    async killPrimaryOf(slot) {
      const owner = servingPrimaries(await topology()).find((n) => n.slots.some(([from, to]) => from <= slot && slot <= to));
      if (!owner) throw new Error(`no live primary serves slot ${slot}`);
      const child = servers.get(owner.address);
      if (!child || !alive(child)) throw new Error(`the primary ${owner.address} of slot ${slot} is not a live node of this cluster`);
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      return owner.address;
    },
    untilHealthy: (timeoutMs = 15_000) =>
      until(
        'the private cluster healthy again',
        async () => {
          const live = new Set(liveAddresses());
          for (const address of live) {
            const info = await ask(address, ['CLUSTER', 'INFO']);
            if (field(info, 'cluster_state') !== 'ok') return `${address} cluster_state:${field(info, 'cluster_state')}`;
            // Every node's own view must route every slot to a live primary, or clients it redirects would hit a dead one.
            const served = servingPrimaries(parseClusterNodes(String(await ask(address, ['CLUSTER', 'NODES']))))
              .filter((n) => live.has(n.address))
              .reduce((sum, n) => sum + n.slots.reduce((s, [from, to]) => s + to - from + 1, 0), 0);
            if (served !== SLOTS) return `${address} sees ${served} of ${SLOTS} slots on live primaries`;
          }
          return undefined;
        },
        timeoutMs,
      ),
    async flush() {
      await Promise.all((await primaries()).map((address) => ask(address, ['FLUSHALL'])));
    },
    stop,
  };
}
