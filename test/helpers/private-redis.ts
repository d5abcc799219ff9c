/**
 * A Redis server of the test's own on a free port of 127.0.0.1, without
 * persistence, so a test can really restart it empty (data and script cache
 * gone) without touching the shared Redis other tests use.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';

const READY_TIMEOUT_MS = 10_000;

export interface PrivateRedis {
  url: string;
  /** SIGKILL, then a fresh empty server on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, 'close');
  return port;
}

async function untilAnswering(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 500 } });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      await client.close();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the private Redis did not answer within ${READY_TIMEOUT_MS} ms`, { cause: err });
      await sleep(50);
    }
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess;
  const launch = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await untilAnswering(url);
  };
  const halt = async (signal: NodeJS.Signals) => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = once(server, 'exit');
    server.kill(signal);
    await exited;
  };
  await launch();
  return {
    url,
    async restart() {
      await halt('SIGKILL');
      await launch();
    },
    stop: () => halt('SIGTERM'),
  };
}
