/**
 * What the private Redis topologies of the tests (private-cluster.ts,
 * private-sentinel.ts) share: redis-server processes on free loopback ports
 * that never outlive the test, short-lived connections to ask them things,
 * and polling until they are ready.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';

/** How long a server may take to answer its first PING. */
const READY_TIMEOUT_MS = 20_000;

// A test that crashes never calls stop(); its servers and files must not outlive it.
const running = new Set<ChildProcess>();
const roots = new Set<string>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});
// 'exit' does not run when the test process is itself killed (a runner's SIGTERM on timeout);
// where util-linux has setpriv, the kernel then SIGKILLs the servers with their parent.
const withParentDeathSignal = spawnSync('setpriv', ['--version']).error ? [] : ['setpriv', '--pdeathsig', 'KILL'];

export function spawnServer(args: string[]): ChildProcess {
  const [command, ...rest] = [...withParentDeathSignal, 'redis-server', ...args];
  const child = spawn(command, rest, { stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

export async function freePorts(count: number): Promise<number[]> {
  // All probes stay bound until the last one is, so no port is handed out twice.
  const probes = Array.from({ length: count }, () => createServer().listen(0, '127.0.0.1'));
  await Promise.all(probes.map((probe) => once(probe, 'listening')));
  const ports = probes.map((probe) => (probe.address() as { port: number }).port);
  await Promise.all(probes.map((probe) => once(probe.close(), 'close')));
  return ports;
}

/** One command on a short-lived connection: servers come and go, so no connection is kept. */
export async function ask(address: string, args: string[]): Promise<unknown> {
  const client = createClient({ url: `redis://${address}`, socket: { reconnectStrategy: false, connectTimeout: 500 } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.sendCommand(args);
  } finally {
    if (client.isOpen) client.destroy();
  }
}

export function field(info: unknown, name: string): string | undefined {
  return new RegExp(`^${name}:(.*?)\\r?$`, 'm').exec(String(info))?.[1];
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export async function untilAnswering(address: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    // A server that cannot start (port taken, bad config) says why in its log; waiting would only hide it.
    if (!alive(child)) throw new Error(`redis-server ${address} exited at start:\n${await readFile(log, 'utf8').catch(() => '')}`);
    try {
      await ask(address, ['PING']);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server ${address} did not answer within ${READY_TIMEOUT_MS} ms`, { cause: err });
      await sleep(20);
    }
  }
}

/** Polls `check` until it returns no complaint; on timeout, the last complaint says what was missing. */
export async function until(what: string, check: () => Promise<string | undefined>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let complaint: string | undefined;
    try {
      complaint = await check();
    } catch (err) {
      complaint = String(err);
    }
    if (complaint === undefined) return;
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms: ${complaint}`);
    await sleep(50);
  }
}


/** A fresh directory for a topology's files, removed by `removeRoot` or, failing that, when the process exits. */
export async function makeRoot(name: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), `sessionkeeper-${name}-`));
  roots.add(root);
  return root;
}

/** SIGKILLs every server still running (nothing to save, so no graceful shutdown), then removes their directory. */
export async function stopAll(servers: Iterable<ChildProcess>, root: string): Promise<void> {
  await Promise.all(
    [...servers].filter(alive).map(async (child) => {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }),
  );
  roots.delete(root);
  await rm(root, { recursive: true, force: true });
}
